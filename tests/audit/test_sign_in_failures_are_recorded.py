"""A failed sign-in writes one entry (never the password); a successful one writes none."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from audit.signals import NO_SUCH_ACCOUNT_DETAIL, UNKNOWN_ACCOUNT, WRONG_CREDENTIALS_DETAIL

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
WRONG_PASSWORD = "not-the-password-4711"


def test_a_wrong_password_writes_one_entry_for_that_account(client, user):
    response = client.post(LOGIN_URL, {"username": "alice", "password": WRONG_PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.get()
    assert entry.account_id == user.pk
    assert (entry.action, entry.object_type, entry.object_label) == ("sign_in_failed", "account", "alice")
    assert (entry.actor, entry.source, entry.ip) == ("alice", "console", "127.0.0.1")
    assert entry.detail == WRONG_CREDENTIALS_DETAIL == "Wrong username or password."
    stored = " ".join(str(value) for value in AuditEntry.objects.values_list().get())
    assert WRONG_PASSWORD not in stored


def test_an_unknown_username_is_recorded_under_no_account_without_the_typed_text(client, user):
    # A password typed into the username box must not land in the Audit Log.
    response = client.post(LOGIN_URL, {"username": WRONG_PASSWORD, "password": "alice"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    entry = AuditEntry.objects.get()
    assert entry.account_id is None
    assert (entry.actor, entry.object_label, entry.object_id) == (UNKNOWN_ACCOUNT, "unknown account", "")
    assert (entry.detail, entry.ip) == (NO_SUCH_ACCOUNT_DETAIL, "127.0.0.1")
    assert NO_SUCH_ACCOUNT_DETAIL == "No account has this username."
    stored = " ".join(str(value) for value in AuditEntry.objects.values_list().get())
    assert WRONG_PASSWORD not in stored


def test_the_owner_sees_the_failure_in_the_audit_log(client, user):
    client.post(LOGIN_URL, {"username": "alice", "password": WRONG_PASSWORD})
    client.force_login(user)
    page = client.get("/audit/").content.decode()
    assert "Sign-in failed" in page and "127.0.0.1" in page
    assert WRONG_PASSWORD not in page


def test_a_successful_sign_in_writes_nothing(client, user):
    response = client.post(LOGIN_URL, {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 302
    assert not AuditEntry.objects.exists()
