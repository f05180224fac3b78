"""Another account's entries appear neither on the page nor in the CSV export."""

from __future__ import annotations

import pytest

from audit import services
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(user, other_user):
    for owner, label in ((user, "alice_product"), (other_user, "mallory_product")):
        services.record(
            account_id=owner.pk,
            action=AuditEntry.Action.PRODUCT_CREATED,
            object_type="product",
            object_label=label,
        )


def test_the_page_lists_only_the_accounts_own_entries(client, user, other_user, entries):
    client.force_login(other_user)
    page = client.get("/audit/").content.decode()
    assert "mallory_product" in page and "alice_product" not in page
    # Paging keys of another account's entries lead nowhere either.
    alice_entry = AuditEntry.objects.get(account=user)
    page = client.get(f"/audit/?newer={alice_entry.pk - 1}").content.decode()
    assert "alice_product" not in page


def test_the_export_holds_only_the_accounts_own_entries(client, user, other_user, entries):
    client.force_login(user)
    response = client.get("/audit/export.csv")
    assert response.status_code == 200
    content = b"".join(response.streaming_content).decode()
    assert "alice_product" in content and "mallory_product" not in content


def test_signed_out_visitors_are_sent_to_sign_in(client, entries):
    for url in ("/audit/", "/audit/export.csv"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
