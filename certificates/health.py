"""Certificate Health: what is expired, expiring or weak, as selectors.

Every device finding is a range on an indexed column (the certificate's end date,
the PSK's age), counted and read a page at a time, never a loop over a fleet's
certificates: all kinds counted in one statement, their newest rows read in another.
An account holds at most ten CAs, so those are read in one query and judged here;
the broker's server certificate is one file, parsed when it changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection, models
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

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
REVOCATION_REASONS = dict(RevokedCertificate.Reason.choices)


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


# The findings' statements are written in SQL: as ORM querysets they cost Django
# several milliseconds of building and compiling per page, ten times what the database
# takes to answer them. Only table and column names and Kind values are formatted
# into them; every value is a parameter.
DEVICES, PRODUCTS, REVOKED = Device._meta.db_table, Product._meta.db_table, RevokedCertificate._meta.db_table
CAS, ACCOUNTS = CACertificate._meta.db_table, User._meta.db_table
# One row per finding listed: kind, device name, Product ID, product name, account,
# the date the detail gives (an end date, when the PSK was set, when it was revoked),
# reason. {kind}, {at} and {newest} (the subquery picking the kind's newest) are
# filled in per kind.
DEVICE_ROWS = (
    "SELECT '{kind}', d.name, p.product_id, p.name, a.username, d.{at}, ''"  # noqa: S608
    f" FROM {DEVICES} d JOIN {PRODUCTS} p ON p.id = d.product_id JOIN {ACCOUNTS} a ON a.id = p.owner_id"
    " WHERE d.id IN ({newest})"
)
REVOKED_ROWS = (
    "SELECT '{kind}', d.name, p.product_id, p.name, a.username, r.{at}, r.reason"  # noqa: S608
    f" FROM {REVOKED} r JOIN {DEVICES} d ON d.id = r.device_id"
    f" JOIN {PRODUCTS} p ON p.id = d.product_id JOIN {ACCOUNTS} a ON a.id = r.owner_id"
    " WHERE r.id IN ({newest})"
)


@dataclass(frozen=True)
class _Selection:
    """The rows of one device finding kind (`FROM … WHERE …`), and how its newest are picked."""

    kind: Kind
    source: str
    params: tuple[Any, ...]
    key: str  # the id column in `source`
    at: str  # the date column: its latest value is the kind's newest problem
    rows: str  # DEVICE_ROWS or REVOKED_ROWS

    def newest(self) -> str:
        return self.rows.format(
            kind=self.kind.value,
            at=self.at,
            newest=f"SELECT {self.key} {self.source} ORDER BY {self.at} DESC LIMIT %s",
        )


def _device_selections(owner: User | None, now: datetime, window: timedelta) -> list[_Selection]:
    moment = connection.ops.adapt_datetimefield_value
    # Products as a subquery, not a join on the owner: each kind is then a range of the
    # (product, certificate_not_after) or (product, psk_updated) index.
    scope = ""
    account: tuple[Any, ...] = ()
    if owner is not None:
        scope = f"product_id IN (SELECT id FROM {PRODUCTS} WHERE owner_id = %s) AND "  # noqa: S608
        account = (owner.pk,)
    devices = f"FROM {DEVICES} WHERE {scope}"

    def device_kind(kind: Kind, condition: str, at: str, *dates: datetime) -> _Selection:
        params = (*account, *(moment(date) for date in dates))
        return _Selection(kind, devices + condition, params, "id", at, DEVICE_ROWS)

    # The newest problem of each kind: the latest expiry, the certificate that came
    # within the window last (the latest end date), the PSK that turned a year old
    # last, the latest revocation.
    expiry = "certificate_not_after"
    return [
        device_kind(Kind.DEVICE_EXPIRED, f"{expiry} <= %s", expiry, now),
        device_kind(Kind.DEVICE_EXPIRING, f"{expiry} > %s AND {expiry} <= %s", expiry, now, now + window),
        device_kind(Kind.OLD_PSK, "psk_updated < %s", "psk_updated", now - PSK_MAX_AGE),
        # Enabled devices whose current certificate is revoked: cut off, yet still listed as Enabled.
        _Selection(
            Kind.REVOKED_ENABLED,
            f"FROM {REVOKED} r JOIN {DEVICES} d ON d.id = r.device_id WHERE "
            + ("r.owner_id = %s AND " if owner is not None else "")
            + "d.enabled = %s AND d.certificate_fingerprint = r.fingerprint",
            (*account, True),
            "r.id",
            "revoked_at",
            REVOKED_ROWS,
        ),
    ]


def _device_counts(selections: list[_Selection]) -> dict[str, int]:
    """Every device finding counted, by kind: one statement of index-only counts."""
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) {selection.source})" for selection in selections)
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for selection in selections for param in selection.params])
        counted = cursor.fetchone()
    return {selection.kind: count for selection, count in zip(selections, counted, strict=True)}


DEVICE_ROW_KEYS = (
    "kind",
    "object_name",
    "product_code",
    "product_label",
    "account",
    "at",
    "revocation_reason",
)


def _newest_device_rows(
    selections: list[_Selection], counts: Mapping[str, int], limit: int
) -> list[dict[str, Any]]:
    """The `limit` newest rows of each kind found, in one statement.

    Each kind's newest are picked by id in a subquery: SQLite refuses ORDER BY and
    LIMIT in the members of a UNION, not in their subqueries.
    """
    found = [selection for selection in selections if counts[selection.kind]]
    if not found:
        return []
    sql = " UNION ALL ".join(selection.newest() for selection in found)
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for selection in found for param in (*selection.params, limit)])
        rows = cursor.fetchall()
    return [dict(zip(DEVICE_ROW_KEYS, (*row[:5], _aware(row[5]), row[6]), strict=True)) for row in rows]


def _aware(value: datetime | str) -> datetime:
    """A date as the cursor gives it: SQLite's is text in UTC, PostgreSQL's an aware datetime."""
    moment = value if isinstance(value, datetime) else parse_datetime(value)
    if moment is None:
        raise ValueError(f"not a date: {value!r}")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


class _DeviceLinks:
    """Findings about devices, their links made with one reverse() rather than one per row.

    Product IDs and device names hold only URL-safe characters, so the device page's
    URL is a fixed prefix, the Product ID, a fixed middle and the name.
    """

    def __init__(self) -> None:
        start, middle = reverse("products:device_detail", args=["P", "N"]).rsplit("/P/", 1)
        self.prefix, self.middle = f"{start}/", "/" + middle.split("N", 1)[0]

    def finding(self, row: Mapping[str, Any], window: timedelta) -> Finding:
        kind, at = row["kind"], row["at"]
        if kind == Kind.DEVICE_EXPIRED:
            since, detail = at, f"Expired {_day(at)}"
        elif kind == Kind.DEVICE_EXPIRING:
            since, detail = at - window, f"Expires {_day(at)}"
        elif kind == Kind.OLD_PSK:
            since, detail = at + PSK_MAX_AGE, f"PSK set {_day(at)}"
        else:
            reason = REVOCATION_REASONS.get(row["revocation_reason"], row["revocation_reason"])
            since, detail = at, f"Revoked {_day(at)} ({reason})"
        name = row["object_name"]
        return Finding(
            kind=kind,
            object_label=f"{row['product_label']} / {name}",
            url=f"{self.prefix}{row['product_code']}{self.middle}{name}/",
            since=since,
            detail=detail,
            account=row["account"],
        )


CA_COLUMNS = (
    "pk",
    "name",
    "not_after",
    "key_description",
    "signature_hash",
    "created",
    "account",
    "product_count",
)


def _cas(owner: User | None) -> list[dict[str, Any]]:
    """The CAs (at most ten an account), each with how many products it is bound to."""
    sql = (
        "SELECT c.id, c.name, c.not_after, c.key_description, c.signature_hash, c.created, a.username,"  # noqa: S608
        f" (SELECT COUNT(*) FROM {PRODUCTS} p WHERE p.ca_certificate_id = c.id)"
        f" FROM {CAS} c JOIN {ACCOUNTS} a ON a.id = c.owner_id"
    )
    params: tuple[Any, ...] = ()
    if owner is not None:
        sql, params = f"{sql} WHERE c.owner_id = %s", (owner.pk,)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        dict(zip(CA_COLUMNS, (*row[:2], _aware(row[2]), *row[3:5], _aware(row[5]), *row[6:]), strict=True))
        for row in rows
    ]


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d} UTC"


def _ca_findings(owner: User | None, now: datetime, window: timedelta) -> list[Finding]:
    findings = []
    for ca in _cas(owner):
        name, end, account = ca["name"], ca["not_after"], ca["account"]
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
    """Findings for one account (`owner`), or for every account with None; newest problem first.

    Three statements whatever the fleet's size: the device counts, the newest rows
    of each device finding kind, and the CAs.
    """
    now = now or timezone.now()
    window = timedelta(days=days)
    selections = _device_selections(owner, now, window)
    counts = dict.fromkeys(Kind, 0) | _device_counts(selections)
    findings = _ca_findings(owner, now, window) + _broker_findings(now, window)
    for finding in findings:
        counts[finding.kind] += 1
    if limit:
        # Merged here with the CA and broker findings, which that statement does not hold:
        # at most `limit` rows of each kind, the newest of the whole report among them.
        link = _DeviceLinks()
        findings += [link.finding(row, window) for row in _newest_device_rows(selections, counts, limit)]
    findings = sorted(findings, key=lambda finding: finding.since, reverse=True)[:limit]
    return Report(findings=findings, counts={kind: count for kind, count in counts.items() if count})


def _badge_key(owner: User) -> str:
    return f"certificate-health-count:{owner.pk}"


def finding_count(owner: User) -> int:
    """How many findings the sidebar badge shows, at most a minute old."""
    count = cache.get(_badge_key(owner))
    if count is None:
        count = health_report(owner=owner, limit=0).total
        remember_finding_count(owner, count)
    return count


def remember_finding_count(owner: User, count: int) -> None:
    """The badge's count, from a report just made (the Certificate Health page's own)."""
    cache.set(_badge_key(owner), count, BADGE_CACHE_SECONDS)
