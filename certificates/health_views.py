from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from iothub_console.auth import AuthenticatedHttpRequest

from . import health

FINDINGS_SHOWN = 20


def certificate_health(request: AuthenticatedHttpRequest) -> HttpResponse:
    report = health.health_report(owner=request.user, limit=FINDINGS_SHOWN)
    # The sidebar badge on this page then shows the count just made instead of counting again.
    health.remember_finding_count(request.user, report.total)
    labels = dict(health.Kind.choices)
    counts = [(labels[kind], count) for kind, count in report.counts.items()]
    # Plain strings for the template, which then only prints them (as the device list does).
    rows = [
        {
            "kind": labels[finding.kind],
            "object": finding.object_label,
            "url": finding.url,
            "detail": finding.detail,
            "since": f"{finding.since:%Y-%m-%d}",
        }
        for finding in report.findings
    ]
    return render(
        request,
        "certificates/certificate_health.html",
        {"report": report, "counts": counts, "rows": rows, "window_days": health.EXPIRY_WINDOW_DAYS},
    )
