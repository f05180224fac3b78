from __future__ import annotations

import io
from datetime import UTC

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from iothub_console.auth import AuthenticatedHttpRequest
from iothub_console.spreadsheet import SpreadsheetWriter

from . import selectors
from .forms import AuditFilterForm
from .models import AuditEntry

ENTRIES_PER_PAGE = 20


def entry_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    page = selectors.entry_page(
        account=request.user,
        filters=form.filters(),
        size=ENTRIES_PER_PAGE,
        older_than=request.GET.get("older"),
        newer_than=request.GET.get("newer"),
    )
    links = selectors.ObjectLinks()
    rows = [_row(entry, links) for entry in page.entries]
    return render(
        request,
        "audit/auditentry_list.html",
        {
            "form": form,
            "object_type_options": form.options("object_type"),
            "action_options": form.options("action"),
            "since": form.value("since"),
            "until": form.value("until"),
            "page": page,
            "rows": rows,
            "query": form.query(),
        },
    )


SOURCES = dict(AuditEntry.Source.choices)
OBJECT_TYPES = dict(AuditEntry.ObjectType.choices)
ACTIONS = dict(AuditEntry.Action.choices)


def _row(entry: dict, links: selectors.ObjectLinks) -> dict:
    """What one row shows, worked out here: the template only prints values (as the device list does)."""
    return {
        "time": entry["time"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "actor": entry["actor"],
        "source": SOURCES.get(entry["source"], entry["source"]),
        "ip": entry["ip"] or "—",
        "object_type": OBJECT_TYPES.get(entry["object_type"], entry["object_type"]),
        "object": entry["object_label"] or entry["object_id"],
        "url": links.url(entry["object_type"], entry["object_id"], entry["action"]),
        "action": ACTIONS.get(entry["action"], entry["action"]),
        "detail": entry["detail"],
    }


def entry_export(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    form = AuditFilterForm(request.GET or None)
    rows = selectors.csv_rows(request.user, form.filters())
    filename = f"audit-log-{timezone.now():%Y%m%d-%H%M%S}.csv"
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _csv_lines(rows):
    buffer = io.StringIO()
    writer = SpreadsheetWriter(buffer)
    writer.writerow(selectors.CSV_HEADER)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
