"""Certificate Health: what is expired, expiring or weak, as selectors.

Every device finding is a range on an indexed column (the certificate's end date,
the PSK's age), counted and read a page at a time, never a loop over a fleet's
certificates. An account holds at most ten CAs, so those are read in one query and
judged here; the broker's server certificate is one file, parsed when it changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import models
from django.urls import reverse
from django.utils import timezone

from broker import config as broker_config
from lifecycle.models import RevokedCertificate
from products.models import Device, Product

from . import x509
from .models import CACertificate

EXPIRY_WINDOW_DAYS = 30
PSK_MAX_AGE = timedelta(days=365)
# The sidebar badge is read on every page: counted at most once a minute per account.
BADGE_CACHE_SECONDS = 60
MIN_RSA_BITS = 2048


class Kind(models.TextChoices):
    CA_EXPIRED_BOUND = "ca_expired_bound", "Expired CA bound to products"
    CA_EXPIRED = "ca_expired", "CA certificate expired"
    CA_EXPIRING = "ca_expiring", "CA certificate expiring"
    DEVICE_EXPIRED = "device_expired", "Device certificate expired"
    DEVICE_EXPIRING = "device_expiring", "Device certificate expiring"
    BROKER_EXPIRED = "broker_expired", "Broker server certificate expired"
    BROKER_EXPIRING = "broker_expiring", "Broker server certificate expiring"
    REVOKED_ENABLED = "revoked_enabled", "Revoked certificate, device still enabled"
    WEAK_KEY = "weak_key", "Weak key"
    WEAK_SIGNATURE = "weak_signature", "SHA-1 or MD5 signature"
    OLD_PSK = "old_psk", "PSK older than a year"


# The kinds that make `manage.py certificate_health` exit 1: something expired or expiring.
EXPIRY_KINDS = frozenset(
    {
        Kind.CA_EXPIRED_BOUND,
        Kind.CA_EXPIRED,
        Kind.CA_EXPIRING,
        Kind.DEVICE_EXPIRED,
        Kind.DEVICE_EXPIRING,
        Kind.BROKER_EXPIRED,
        Kind.BROKER_EXPIRING,
    }
)


@dataclass(frozen=True)
class Finding:
    kind: str
    object_label: str
    url: str  # "" when the object has no page (the broker's server certificate)
    since: datetime  # when the problem began: listed newest first
    detail: str
    account: str = ""

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label


@dataclass(frozen=True)
class Report:
    findings: list[Finding]  # newest problem first, at most `limit` of them
    counts: dict[str, int] = field(default_factory=dict)  # every finding, by kind

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def expiring(self) -> int:
        return sum(count for kind, count in self.counts.items() if kind in EXPIRY_KINDS)

    @property
    def shown_all(self) -> bool:
        return len(self.findings) == self.total


def is_weak_key(key_description: str) -> bool:
    """Weaker than Certificate Management now accepts: RSA under 2048 bits, or not RSA / EC P-curve."""
    kind, _, size = key_description.rpartition(" ")
    if kind == "RSA":
        return not size.isdigit() or int(size) < MIN_RSA_BITS
    return not any(kind == f"EC {curve}" for curve in x509.ALLOWED_EC_CURVES.values())


def _devices(owner: User | None):
    devices = Device.objects.all()
    if owner is None:
        return devices
    # Products as a subquery, not a join on the owner: each is then a range of the
    # (product, certificate_not_after) and (product, psk_updated) indexes.
    return devices.filter(product__in=Product.objects.filter(owner=owner).values("pk"))


class _DeviceLinks:
    """Findings about devices, their links made with one reverse() rather than one per row.

    Product IDs and device names hold only URL-safe characters, so the device page's
    URL is a fixed prefix, the Product ID, a fixed middle and the name.
    """

    def __init__(self) -> None:
        start, middle = reverse("products:device_detail", args=["P", "N"]).rsplit("/P/", 1)
        self.prefix, self.middle = f"{start}/", "/" + middle.split("N", 1)[0]

    def finding(self, kind: str, row: Mapping[str, Any], since: datetime, detail: str) -> Finding:
        product_id, name = row["product__product_id"], row["name"]
        return Finding(
            kind=kind,
            object_label=f"{row['product__name']} / {name}",
            url=f"{self.prefix}{product_id}{self.middle}{name}/",
            since=since,
            detail=detail,
            account=row["product__owner__username"],
        )


CA_FIELDS = ("pk", "name", "not_after", "key_description", "signature_hash", "created", "owner__username")


def _cas(owner: User | None):
    cas = CACertificate.objects.all() if owner is None else CACertificate.objects.filter(owner=owner)
    return cas.with_product_counts().values(*CA_FIELDS, "product_count")


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d} UTC"


DEVICE_FIELDS = ("name", "product__product_id", "product__name", "product__owner__username")


def _device_findings(
    owner: User | None, now: datetime, window: timedelta, limit: int
) -> tuple[list[Finding], dict[str, int]]:
    devices = _devices(owner)
    horizon, psk_cutoff = now + window, now - PSK_MAX_AGE
    certificates = devices.filter(certificate_not_after__lte=horizon)
    old_psk = devices.filter(psk_updated__lt=psk_cutoff)
    # Both certificate counts from one range of the index; the PSKs' is another index
    # (an OR of the two makes SQLite scan every device of the account instead).
    counted = certificates.aggregate(
        expired=models.Count("pk", filter=models.Q(certificate_not_after__lte=now)),
        expiring=models.Count("pk", filter=models.Q(certificate_not_after__gt=now)),
    )
    counts: dict[str, int] = {
        Kind.DEVICE_EXPIRED: counted["expired"],
        Kind.DEVICE_EXPIRING: counted["expiring"],
        Kind.OLD_PSK: old_psk.count(),
    }
    findings: list[Finding] = []
    if not limit:
        return findings, counts
    link = _DeviceLinks()
    # The newest problems of each kind: the latest expiry, the certificate that came
    # within the window last (the latest end date), the PSK that turned a year old last.
    # Two queries rather than one ordered by when each problem began: that order is
    # date arithmetic on every row in the window, which SQLite does in Python.
    if counts[Kind.DEVICE_EXPIRED]:
        rows = certificates.filter(certificate_not_after__lte=now).order_by("-certificate_not_after")
        for row in rows.values(*DEVICE_FIELDS, "certificate_not_after")[:limit]:
            end = row["certificate_not_after"]
            findings.append(link.finding(Kind.DEVICE_EXPIRED, row, end, f"Expired {_day(end)}"))
    if counts[Kind.DEVICE_EXPIRING]:
        rows = certificates.filter(certificate_not_after__gt=now).order_by("-certificate_not_after")
        for row in rows.values(*DEVICE_FIELDS, "certificate_not_after")[:limit]:
            end = row["certificate_not_after"]
            findings.append(link.finding(Kind.DEVICE_EXPIRING, row, end - window, f"Expires {_day(end)}"))
    if counts[Kind.OLD_PSK]:
        for row in old_psk.order_by("-psk_updated").values(*DEVICE_FIELDS, "psk_updated")[:limit]:
            set_at = row["psk_updated"]
            since = set_at + PSK_MAX_AGE
            findings.append(link.finding(Kind.OLD_PSK, row, since, f"PSK set {_day(set_at)}"))
    return findings, counts


def _revoked_findings(owner: User | None, limit: int) -> tuple[list[Finding], int]:
    """Enabled devices whose current certificate is revoked: cut off, yet still listed as Enabled."""
    revoked = RevokedCertificate.objects.filter(
        device__enabled=True, device__certificate_fingerprint=models.F("fingerprint")
    )
    if owner is not None:
        revoked = revoked.filter(owner=owner)
    count = revoked.count()
    if not count or not limit:
        return [], count
    link = _DeviceLinks()
    rows = revoked.order_by("-revoked_at").values(
        "revoked_at",
        "reason",
        name=models.F("device__name"),
        product__product_id=models.F("device__product__product_id"),
        product__name=models.F("device__product__name"),
        product__owner__username=models.F("owner__username"),
    )[:limit]
    reasons = dict(RevokedCertificate.Reason.choices)
    findings = [
        link.finding(
            Kind.REVOKED_ENABLED,
            row,
            row["revoked_at"],
            f"Revoked {_day(row['revoked_at'])} ({reasons.get(row['reason'], row['reason'])})",
        )
        for row in rows
    ]
    return findings, count


def _ca_findings(owner: User | None, now: datetime, window: timedelta) -> list[Finding]:
    findings = []
    for ca in _cas(owner):
        name, end, account = ca["name"], ca["not_after"], ca["owner__username"]
        url = reverse("certificates:ca_detail", args=[ca["pk"]])
        if end <= now:
            if ca["product_count"]:
                kind = Kind.CA_EXPIRED_BOUND
                detail = f"Expired {_day(end)}; {ca['product_count']} product(s) still use it"
            else:
                kind, detail = Kind.CA_EXPIRED, f"Expired {_day(end)}"
            findings.append(Finding(kind, name, url, end, detail, account))
        elif end <= now + window:
            findings.append(
                Finding(Kind.CA_EXPIRING, name, url, end - window, f"Expires {_day(end)}", account)
            )
        if is_weak_key(ca["key_description"]):
            findings.append(Finding(Kind.WEAK_KEY, name, url, ca["created"], ca["key_description"], account))
        if ca["signature_hash"] in x509.WEAK_SIGNATURE_HASHES:
            detail = f"Signed with {ca['signature_hash'].upper()}"
            findings.append(Finding(Kind.WEAK_SIGNATURE, name, url, ca["created"], detail, account))
    return findings


@lru_cache(maxsize=4)
def _server_certificate_end(path: Path, modified_ns: int) -> datetime | None:
    try:
        return x509.load_certificate(path.read_bytes()).not_valid_after_utc
    except (OSError, x509.CertificateError):
        return None


def broker_certificate_end() -> datetime | None:
    """The end date of the broker's server certificate, or None before a broker has run."""
    path = Path(settings.IOTHUB_BROKER_DIR) / broker_config.SERVER_CERT_FILE
    try:
        modified_ns = path.stat().st_mtime_ns
    except OSError:
        return None
    return _server_certificate_end(path, modified_ns)


def _broker_findings(now: datetime, window: timedelta) -> list[Finding]:
    end = broker_certificate_end()
    if end is None or end > now + window:
        return []
    label = "Broker server certificate"
    if end <= now:
        return [Finding(Kind.BROKER_EXPIRED, label, "", end, f"Expired {_day(end)}; run_broker renews it")]
    return [
        Finding(Kind.BROKER_EXPIRING, label, "", end - window, f"Expires {_day(end)}; run_broker renews it")
    ]


def health_report(
    *,
    owner: User | None,
    days: int = EXPIRY_WINDOW_DAYS,
    limit: int = 100,
    now: datetime | None = None,
) -> Report:
    """Findings for one account (`owner`), or for every account with None; newest problem first."""
    now = now or timezone.now()
    window = timedelta(days=days)
    device_findings, counts = _device_findings(owner, now, window, limit)
    revoked_findings, counts[Kind.REVOKED_ENABLED] = _revoked_findings(owner, limit)
    device_findings += revoked_findings
    other = _ca_findings(owner, now, window) + _broker_findings(now, window)
    for kind in Kind:
        counts.setdefault(kind, 0)
    for finding in other:
        counts[finding.kind] += 1
    findings = sorted(device_findings + other, key=lambda finding: finding.since, reverse=True)[:limit]
    return Report(findings=findings, counts={kind: count for kind, count in counts.items() if count})


def finding_count(owner: User) -> int:
    """How many findings the sidebar badge shows, at most a minute old."""
    key = f"certificate-health-count:{owner.pk}"
    count = cache.get(key)
    if count is None:
        count = health_report(owner=owner, limit=0).total
        cache.set(key, count, BADGE_CACHE_SECONDS)
    return count
