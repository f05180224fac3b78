"""Reading the Audit Log: one account's entries, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

from iothub_console.paging import id_key

from .models import AuditEntry

CSV_HEADER = (
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
)
_DELETIONS = {
    AuditEntry.Action.CA_DELETED,
    AuditEntry.Action.PRODUCT_DELETED,
    AuditEntry.Action.DEVICE_DELETED,
    AuditEntry.Action.API_KEY_DELETED,
}


@dataclass(frozen=True)
class EntryFilter:
    object_type: str = ""
    action: str = ""
    since: date | None = None  # first day shown (UTC)
    until: date | None = None  # last day shown (UTC), inclusive


@dataclass(frozen=True)
class EntryPage:
    """Entries by key, not by offset: every page is one index range of `size` + 1 rows.

    `older` and `newer` are the ids at the page's edges for the links beyond them,
    None where there is nothing further that way.
    """

    entries: list[dict]  # LIST_FIELDS of each entry
    older: int | None
    newer: int | None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def entries_for(account: User, filters: EntryFilter) -> QuerySet[AuditEntry]:
    """The account's entries that pass `filters`, newest first (each filter is on an index)."""
    entries = AuditEntry.objects.filter(account=account)
    if filters.object_type:
        entries = entries.filter(object_type=filters.object_type)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.since:
        entries = entries.filter(time__gte=_start_of(filters.since))
    if filters.until and filters.until < date.max:
        # The last day a date holds has no day after it; every entry is before its end.
        entries = entries.filter(time__lt=_start_of(filters.until + timedelta(days=1)))
    return entries.order_by("-id")


LIST_FIELDS = (
    "id",
    "time",
    "actor",
    "source",
    "ip",
    "object_type",
    "object_id",
    "object_label",
    "action",
    "detail",
)


def entry_page(
    *,
    account: User,
    filters: EntryFilter,
    size: int,
    older_than: str | None = None,
    newer_than: str | None = None,
) -> EntryPage:
    # Plain rows, not model instances: a page is read-only, and building models for it
    # cost more than the index range that found them.
    entries = entries_for(account, filters).values(*LIST_FIELDS)
    older_key, newer_key = id_key(older_than), id_key(newer_than)
    if newer_key is not None:
        rows = list(entries.filter(id__gt=newer_key).order_by("id")[: size + 1])
        more_newer, rows = len(rows) > size, rows[:size][::-1]
        more_older = True
    else:
        if older_key is not None:
            entries = entries.filter(id__lt=older_key)
        rows = list(entries[: size + 1])
        more_older, rows, more_newer = len(rows) > size, rows[:size], older_key is not None
    return EntryPage(
        entries=rows,
        older=rows[-1]["id"] if rows and more_older else None,
        newer=rows[0]["id"] if rows and more_newer else None,
    )


_OBJECT_PAGES: dict[str, tuple[str, int]] = {
    AuditEntry.ObjectType.CA_CERTIFICATE: ("certificates:ca_detail", 1),
    AuditEntry.ObjectType.PRODUCT: ("products:product_detail", 1),
    AuditEntry.ObjectType.DEVICE: ("products:device_detail", 2),  # object id "<ProductId>/<name>"
    AuditEntry.ObjectType.BATCH: ("batches:batch_detail", 1),
    AuditEntry.ObjectType.API_KEY: ("api:key_list", 0),
}
_PLACEHOLDER = "0"


class ObjectLinks:
    """Links to the objects of a page of entries, with one reverse() per kind, not per row.

    Each kind's URL is reversed once with placeholder ids, then the entry's ids go in
    their place, quoted as reverse() quotes them: twenty reverse() calls cost a tenth of the page.
    """

    def __init__(self) -> None:
        self._patterns: dict[str, tuple[str, ...] | None] = {}

    def _pattern(self, object_type: str) -> tuple[str, ...] | None:
        if object_type not in self._patterns:
            page = _OBJECT_PAGES.get(object_type)
            if page is None:
                self._patterns[object_type] = None
            else:
                name, parts = page
                marks = [f"{_PLACEHOLDER}{index}" for index in range(parts)]
                url = reverse(name, args=marks)
                pieces = [url]
                for mark in marks:
                    pieces[-1:] = pieces[-1].split(mark, 1)
                self._patterns[object_type] = tuple(pieces)
        return self._patterns[object_type]

    def url(self, object_type: str, object_id: str, action: str) -> str:
        """The page of an entry's object, while it can still exist ("" after a deletion)."""
        pattern = self._pattern(object_type)
        if pattern is None or action in _DELETIONS or not object_id:
            return ""
        ids = object_id.split("/", 1) if len(pattern) == 3 else [object_id] * (len(pattern) - 1)
        if len(ids) != len(pattern) - 1 or not all(ids):
            return ""
        url = pattern[0]
        for value, rest in zip(ids, pattern[1:], strict=True):
            url += quote(value, safe=RFC3986_SUBDELIMS + "~:@") + rest
        return url


def csv_rows(account: User, filters: EntryFilter) -> Iterator[tuple]:
    """Every matching entry as a CSV row, read in chunks (an export of a million stays small)."""
    sources = dict(AuditEntry.Source.choices)
    types = dict(AuditEntry.ObjectType.choices)
    actions = dict(AuditEntry.Action.choices)
    username = account.get_username()
    rows = entries_for(account, filters).values_list(
        "time", "actor", "source", "ip", "object_type", "object_id", "object_label", "action", "detail"
    )
    for when, actor, source, ip, kind, object_id, label, action, detail in rows.iterator(chunk_size=2000):
        yield (
            when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            username,
            actor,
            sources.get(source, source),
            ip or "",
            types.get(kind, kind),
            object_id,
            label,
            actions.get(action, action),
            detail,
        )
