"""Entries are never changed or deleted by the app: the model and its querysets refuse."""

from __future__ import annotations

import pytest

from audit import services
from audit.models import APPEND_ONLY, AppendOnlyError, AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(user) -> AuditEntry:
    return services.record(
        account_id=user.pk, action=AuditEntry.Action.CA_DELETED, object_type="ca", object_label="old_ca"
    )


def test_an_entry_cannot_be_saved_again(entry):
    entry.detail = "rewritten"
    with pytest.raises(AppendOnlyError, match=APPEND_ONLY):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).detail == ""


def test_an_entry_cannot_be_deleted(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_a_queryset_cannot_update_or_delete_entries(entry):
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(detail="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.bulk_update([entry], ["detail"])
    assert AuditEntry.objects.get(pk=entry.pk).detail == ""


def test_entries_outlive_the_account(entry, user):
    user.delete()
    assert AuditEntry.objects.get(pk=entry.pk).object_label == "old_ca"
