"""`manage.py certificate_health`: the Certificate Health findings, for cron.

Exits 1 when any certificate is expired or expires within --days (default 30), so
that cron mails someone; weak keys and old PSKs are printed but do not fail it.
"""

from __future__ import annotations

import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from certificates import health

NO_SUCH_ACCOUNT = 'There is no account named "{name}".'


class Command(BaseCommand):
    help = "List expired and expiring certificates, weak keys and old PSKs; exit 1 if anything expires."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=health.EXPIRY_WINDOW_DAYS,
            help="Report certificates that expire within this many days (default 30).",
        )
        parser.add_argument("--account", help="Only this account's certificates (a username).")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print one JSON object, for machines."
        )
        parser.add_argument(
            "--limit", type=int, default=1000, help="List at most this many findings (all are counted)."
        )

    def handle(self, *args, days: int, account: str | None, as_json: bool, limit: int, **options) -> None:
        if days < 0 or limit < 0:
            raise CommandError("--days and --limit must be 0 or more.")
        owner = None
        if account is not None:
            owner = get_user_model().objects.filter(username=account).first()
            if owner is None:
                raise CommandError(NO_SUCH_ACCOUNT.format(name=account))
        report = health.health_report(owner=owner, days=days, limit=limit)
        if as_json:
            self.stdout.write(_as_json(report, days))
        else:
            self._print(report, days)
        if report.expiring:
            sys.exit(1)

    def _print(self, report: health.Report, days: int) -> None:
        if not report.total:
            self.stdout.write(f"No findings: nothing expires within {days} days.")
            return
        self.stdout.write(f"{report.total} finding(s):")
        for kind, count in report.counts.items():
            self.stdout.write(f"  {count:>7}  {health.Kind(kind).label}")
        self.stdout.write("")
        for finding in report.findings:
            account = f"[{finding.account}] " if finding.account else ""
            self.stdout.write(
                f"{finding.since:%Y-%m-%d}  {finding.kind_label}: {account}{finding.object_label} — {finding.detail}"
            )
        if not report.shown_all:
            self.stdout.write(
                f"(the {len(report.findings)} newest of {report.total} are listed; see --limit)"
            )


def _as_json(report: health.Report, days: int) -> str:
    return json.dumps(
        {
            "days": days,
            "total": report.total,
            "expiring": report.expiring,
            "counts": report.counts,
            "findings": [
                {
                    "kind": finding.kind,
                    "label": finding.kind_label,
                    "account": finding.account,
                    "object": finding.object_label,
                    "url": finding.url,
                    "since": finding.since.isoformat(),
                    "detail": finding.detail,
                }
                for finding in report.findings
            ],
        },
        indent=2,
    )
