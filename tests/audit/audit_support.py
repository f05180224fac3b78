"""Shared steps for the Audit Log tests (it holds no tests)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from audit.models import AuditEntry


def sole_entry(account: AbstractBaseUser, action: str) -> AuditEntry:
    """The one entry of `action` (there must be exactly one, in this account)."""
    entries = list(AuditEntry.objects.filter(action=action))
    assert len(entries) == 1, f"{len(entries)} {action} entries: {entries}"
    assert entries[0].account_id == account.pk
    return entries[0]


def assert_by_console(entry: AuditEntry, username: str) -> None:
    assert (entry.actor, entry.source, entry.ip) == (username, AuditEntry.Source.CONSOLE, "127.0.0.1")
