"""The Audit Log page: newest first, keyset pages, filters by object, action and date; the sidebar link."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from audit import services, views
from audit.forms import DATES_REVERSED
from audit.models import AuditEntry
from tests.api_support import links, table_row, visible_text

pytestmark = pytest.mark.django_db
URL = "/audit/"


def add(user, label: str, *, action: str = "product_created", kind: str = "product", when=None) -> AuditEntry:
    if when is None:
        return services.record(account_id=user.pk, action=action, object_type=kind, object_label=label)
    # An entry written at another time: inserted directly, as record() always uses now.
    return AuditEntry.objects.create(
        time=when,
        account=user,
        actor="alice",
        source="console",
        action=action,
        object_type=kind,
        object_label=label,
    )


def labels(html: str) -> list[str]:
    """The object names in the table, top to bottom (the last word of the Object column)."""
    if 'aria-label="Audit Log entries"' not in html:
        return []
    body = html.split('aria-label="Audit Log entries"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[4] for row in rows]
    return [re.sub(r"<[^>]+>", " ", cell).split()[-1] for cell in cells]


def test_the_sidebar_links_to_the_audit_log_and_it_lists_newest_first(signed_in_client, user):
    add(user, "first")
    add(user, "second")
    response = signed_in_client.get("/products/")
    assert (URL, "Audit Log") in links(response.content.decode())
    response = signed_in_client.get(URL)
    assert response.status_code == 200
    assert labels(response.content.decode()) == ["second", "first"]
    newest = AuditEntry.objects.order_by("-id").first()
    row = table_row(response.content.decode(), newest.time.strftime("%Y-%m-%d %H:%M:%S"))
    assert row is not None and "Product created" in row and "System" in row


def test_pages_go_by_key_older_and_newer(signed_in_client, user, monkeypatch):
    monkeypatch.setattr(views, "ENTRIES_PER_PAGE", 3)
    entries = [add(user, f"p{number}") for number in range(7)]
    first = signed_in_client.get(URL)
    assert labels(first.content.decode()) == ["p6", "p5", "p4"]
    assert first.context["page"].newer is None
    older = first.context["page"].older
    assert older == entries[4].pk
    second = signed_in_client.get(f"{URL}?older={older}")
    assert labels(second.content.decode()) == ["p3", "p2", "p1"]
    third = signed_in_client.get(f"{URL}?older={second.context['page'].older}")
    assert labels(third.content.decode()) == ["p0"]
    assert third.context["page"].older is None
    back = signed_in_client.get(f"{URL}?newer={third.context['page'].newer}")
    assert labels(back.content.decode()) == ["p3", "p2", "p1"]


def test_a_malformed_page_key_shows_the_first_page(signed_in_client, user):
    add(user, "only")
    # "²" and "٣" pass str.isdigit(); int() refuses the first and reads the second.
    for key in ("abc", "-1", "9" * 40, "1e5", "²", "1²", "٣"):
        for direction in ("older", "newer"):
            response = signed_in_client.get(URL, {direction: key})
            assert response.status_code == 200
            assert labels(response.content.decode()) == ["only"]
            assert response.context["page"].older is None and response.context["page"].newer is None


def test_the_last_day_a_date_holds_filters_without_overflowing(signed_in_client, user):
    add(user, "long_ago", when=datetime(2000, 1, 1, tzinfo=UTC))
    add(user, "today")

    response = signed_in_client.get(URL, {"since": "0001-01-01", "until": "9999-12-31"})

    assert response.status_code == 200
    assert labels(response.content.decode()) == ["today", "long_ago"]
    assert response.context["form"].errors == {}
    last_day = signed_in_client.get(URL, {"since": "9999-12-31", "until": "9999-12-31"})
    assert last_day.status_code == 200
    assert labels(last_day.content.decode()) == []
    assert "9999-12-31" in last_day.content.decode()


def test_filters_by_object_type_action_and_dates(signed_in_client, user):
    day = datetime(2026, 3, 10, 12, tzinfo=UTC)
    add(user, "old_product", when=day - timedelta(days=5))
    add(user, "in_range", when=day)
    add(user, "dev_1", action="device_added", kind="device", when=day)
    add(user, "dev_2", action="device_deleted", kind="device", when=day + timedelta(days=1))

    by_type = signed_in_client.get(f"{URL}?object_type=device")
    assert labels(by_type.content.decode()) == ["dev_2", "dev_1"]
    by_action = signed_in_client.get(f"{URL}?action=device_added")
    assert labels(by_action.content.decode()) == ["dev_1"]
    by_dates = signed_in_client.get(f"{URL}?since=2026-03-10&until=2026-03-10")
    assert labels(by_dates.content.decode()) == ["dev_1", "in_range"]
    combined = signed_in_client.get(f"{URL}?object_type=product&until=2026-03-09")
    assert labels(combined.content.decode()) == ["old_product"]
    assert 'href="/audit/export.csv?object_type=product&amp;until=2026-03-09"' in combined.content.decode()


def test_bad_filters_are_shown_beside_their_field_and_list_everything(signed_in_client, user):
    add(user, "kept")
    response = signed_in_client.get(f"{URL}?since=2026-03-10&until=2026-03-01&action=nonsense")
    assert response.status_code == 200
    text = visible_text(response.content.decode())
    assert DATES_REVERSED in text
    assert "Select a valid choice. nonsense is not one of the available choices." in text
    assert 'class="invalid-feedback d-block"' in response.content.decode()
    assert labels(response.content.decode()) == ["kept"]


def test_an_empty_log_says_what_will_appear(signed_in_client):
    response = signed_in_client.get(URL)
    assert response.status_code == 200
    assert "No entries" in visible_text(response.content.decode())
