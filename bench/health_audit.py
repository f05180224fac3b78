"""6. Certificate Health and the Audit Log's first page, against a minimal signed-in page.

The large account holds the device list's fleet (100,000 devices in a full run, a
few percent of them expired or expiring) and ten times as many Audit Log entries
(1,000,000), inserted in bulk with realistic actions, objects and times; a small
account holds a thousand devices and ten thousand entries. Both pages must be
within 2× the minimal page's server time, with the same number of queries at
either size. Timing is the WSGI handler's, as for the device list.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from audit.views import ENTRIES_PER_PAGE
from certificates import health
from certificates.health_views import FINDINGS_SHOWN
from products.models import Device, Product

from . import device_list
from .device_list import PageResult
from .report import BenchError, Sample

ENTRY_CHUNK = 10_000
HEALTH = "Certificate Health"
AUDIT = "Audit Log, first page"
PAGE_LABELS = (HEALTH, AUDIT)
URLS = {HEALTH: "/certificate-health/", AUDIT: "/audit/", device_list.MINIMAL_PAGE: "/api-keys/"}
ACTIONS = [
    (AuditEntry.Action.DEVICE_ADDED, AuditEntry.ObjectType.DEVICE),
    (AuditEntry.Action.BUNDLE_DOWNLOADED, AuditEntry.ObjectType.DEVICE),
    (AuditEntry.Action.DEVICE_DISABLED, AuditEntry.ObjectType.DEVICE),
    (AuditEntry.Action.CONNECTION_REFUSED, AuditEntry.ObjectType.DEVICE),
    (AuditEntry.Action.PRODUCT_CREATED, AuditEntry.ObjectType.PRODUCT),
    (AuditEntry.Action.SIGN_IN_FAILED, AuditEntry.ObjectType.ACCOUNT),
]


def insert_entries(owner: AbstractBaseUser, count: int) -> str:
    """`count` entries over the last 90 days, oldest first as they would have been written.

    Returns the label of the newest entry, which the first page must show at its top.
    """
    generator = random.Random(count)
    now = datetime.now(UTC)
    step = timedelta(days=90) / count
    label = ""
    with transaction.atomic():
        for start in range(0, count, ENTRY_CHUNK):
            rows = []
            for number in range(start, min(start + ENTRY_CHUNK, count)):
                action, kind = ACTIONS[generator.randrange(len(ACTIONS))]
                label = f"sensor-{number:07d}"
                rows.append(
                    AuditEntry(
                        time=now - step * (count - number),
                        account_id=owner.pk,
                        actor=owner.get_username() if number % 3 else "AKIDbench0000000000000000000000000",
                        source=AuditEntry.Source.CONSOLE if number % 3 else AuditEntry.Source.API,
                        ip=f"198.51.100.{number % 250}",
                        object_type=kind,
                        object_id=f"BENCHPROD1/{label}"
                        if kind == AuditEntry.ObjectType.DEVICE
                        else "BENCHPROD1",
                        object_label=label,
                        action=action,
                        detail="Pre-shared key" if action == AuditEntry.Action.DEVICE_ADDED else "",
                    )
                )
            AuditEntry.objects.bulk_create(rows, batch_size=1_000)
    return label


def expire_some(product: Product, count: int) -> None:
    """`count` of the product's devices with a certificate that ended yesterday."""
    ids = list(Device.objects.filter(product=product).values_list("pk", flat=True)[:count])
    Device.objects.filter(pk__in=ids).update(certificate_not_after=datetime.now(UTC) - timedelta(days=1))


def fleet_size(owner: AbstractBaseUser) -> int:
    """Every device of the account, whichever section of the run inserted them."""
    return Device.objects.filter(product__owner=owner).count()


@dataclass(frozen=True)
class Result:
    pages: dict[str, PageResult]

    def ratio(self, label: str) -> float:
        return self.pages[label].server_time.median / self.pages[device_list.MINIMAL_PAGE].server_time.median


def measure(owner: AbstractBaseUser, newest_label: str, requests: int) -> Result:
    client = Client()
    client.force_login(owner)
    expected_findings = min(health.health_report(owner=owner, limit=0).total, FINDINGS_SHOWN)
    if not expected_findings:
        raise BenchError(
            "the fleet has no expiring certificates: Certificate Health would measure an empty page"
        )
    checks = {
        HEALTH: lambda html: _check_health(html, expected_findings),
        AUDIT: lambda html: _check_audit(html, newest_label),
        device_list.MINIMAL_PAGE: lambda html: None,
    }
    timed = device_list._TimedHandler(client.handler)
    client.handler = timed
    cache.clear()  # the badge's first count is in the measurement of queries, then cached as in use
    try:
        queries = {label: _query_count(client, url, checks[label]) for label, url in URLS.items()}
        for label, url in URLS.items():
            for _ in range(device_list.WARM_UP_REQUESTS):
                _get(client, url, checks[label])
        times: dict[str, list[float]] = {label: [] for label in URLS}
        for _ in range(requests):
            for label, url in URLS.items():
                _get(client, url, checks[label])
                times[label].append(timed.last)
    finally:
        client.handler = timed.handler
    return Result(
        pages={
            label: PageResult(url, Sample(tuple(times[label])), queries[label]) for label, url in URLS.items()
        }
    )


def _get(client: Client, url: str, check) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}")
    check(response.content.decode("utf-8"))


def _query_count(client: Client, url: str, check) -> int:
    with CaptureQueriesContext(connection) as captured:
        _get(client, url, check)
    return len(captured.captured_queries)


def _rows(html: str, table: str) -> int:
    if f'aria-label="{table}"' not in html:
        return 0
    body = html.split(f'aria-label="{table}"', 1)[1].split("</table>", 1)[0]
    return len(re.findall(r"<tr>", body)) - 1


def _check_health(html: str, expected: int) -> None:
    if _rows(html, "Certificate Health findings") != expected:
        raise BenchError(
            f"Certificate Health listed {_rows(html, 'Certificate Health findings')}, not {expected}"
        )


def _check_audit(html: str, newest_label: str) -> None:
    if _rows(html, "Audit Log entries") != ENTRIES_PER_PAGE or newest_label not in html:
        raise BenchError(
            f"the Audit Log's first page does not list {ENTRIES_PER_PAGE} entries from {newest_label}"
        )
