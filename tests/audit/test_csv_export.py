"""The CSV export: every filtered entry, UTC times, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from audit import services
from audit.models import AuditEntry
from tests.product_console import make_device, make_product

pytestmark = pytest.mark.django_db


def export(client, query: str = "") -> list[list[str]]:
    response = client.get(f"/audit/export.csv{query}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_lists_every_column_newest_first(signed_in_client, user):
    make_device(make_product(user, "meters"), "m1")
    rows = export(signed_in_client)
    assert rows[0] == [
        "Time (UTC)",
        "Account",
        "Actor",
        "Source",
        "IP",
        "Object type",
        "Object ID",
        "Object",
        "Action",
        "Detail",
    ]
    device_row, product_row = rows[1:]
    assert device_row[1:4] == ["alice", "system", "System"]
    assert device_row[5:9] == ["Device", device_row[6], "m1", "Device added"]
    assert product_row[7:9] == ["meters", "Product created"]
    assert len(device_row[0]) == len("2026-01-01 00:00:00")


def test_the_export_follows_the_filters(signed_in_client, user):
    make_device(make_product(user, "meters"), "m1")
    rows = export(signed_in_client, "?object_type=product")
    assert [row[8] for row in rows[1:]] == ["Product created"]


def test_the_export_to_the_last_day_a_date_holds_lists_everything(signed_in_client, user):
    make_device(make_product(user, "meters"), "m1")
    rows = export(signed_in_client, "?since=0001-01-01&until=9999-12-31")
    assert [row[8] for row in rows[1:]] == ["Device added", "Product created"]
    assert export(signed_in_client, "?since=9999-12-31&until=9999-12-31")[1:] == []


def test_formula_prefixes_are_neutralised(signed_in_client, user):
    make_device(make_product(user, "meters"), "-2-3")
    services.record(
        account_id=user.pk,
        action=AuditEntry.Action.PRODUCT_CREATED,
        object_type="product",
        object_label="@SUM",
        detail='=HYPERLINK("http://attacker.example","Click")',
    )
    rows = export(signed_in_client)
    cells = [cell for row in rows[1:] for cell in row]
    assert '\'=HYPERLINK("http://attacker.example","Click")' in cells
    assert "'@SUM" in cells and "'-2-3" in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
