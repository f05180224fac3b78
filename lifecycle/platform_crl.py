"""The Platform CAs' CRLs: signed by the console, rebuilt on each revocation and before they lapse.

The device CA's CRL lists every certificate it issued that the console revoked (on a
device page, or as superseded by a renewal); the root CA's lists none (the console
never revokes its device CA or the broker's certificate), and exists so a verifier
that checks the whole chain (`openssl verify -crl_check_all`) finds one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from certificates import crl
from products import platform
from products.models import PlatformCA

from .models import PlatformCRL, RevokedCertificate

# A verifier caches a CRL until its nextUpdate; a week keeps fetches rare, and a
# revocation replaces the CRL at once for anyone who fetches again.
CRL_LIFETIME = timedelta(days=7)
# Served CRLs are rebuilt this long before their nextUpdate, so no verifier holds a lapsed one.
REFRESH_BEFORE = timedelta(days=1)

KINDS = (PlatformCA.Kind.ROOT, PlatformCA.Kind.DEVICE)


def needs_rebuild(row: PlatformCRL | None, now: datetime) -> bool:
    """No CRL yet, or the stored one is near its nextUpdate."""
    return row is None or row.next_update - REFRESH_BEFORE <= now


def rebuild(kind: str, now: datetime | None = None) -> PlatformCRL:
    """Sign a new CRL for the Platform CA of `kind`, numbered one past the last.

    Call it inside the transaction of the revocation it must list: the row lock
    makes concurrent revocations number their CRLs one after another.
    """
    # Whole seconds: a CRL's times have no fraction, and the row says what the CRL says.
    now = (now or timezone.now()).replace(microsecond=0)
    authority = platform.root_ca() if kind == PlatformCA.Kind.ROOT else platform.device_ca()
    with transaction.atomic():
        row = _locked_row(kind, now)
        entries = [] if kind == PlatformCA.Kind.ROOT else _device_ca_entries()
        row.number += 1
        row.this_update, row.next_update = now, now + CRL_LIFETIME
        row.der = crl.build_crl(
            issuer=authority.certificate,
            issuer_key=authority.private_key,
            number=row.number,
            entries=entries,
            this_update=row.this_update,
            next_update=row.next_update,
        )
        row.save()
        return row


def _locked_row(kind: str, now: datetime) -> PlatformCRL:
    row = PlatformCRL.objects.select_for_update().filter(kind=kind).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return PlatformCRL.objects.create(kind=kind, number=0, der=b"", this_update=now, next_update=now)
    except IntegrityError:
        # Another request made the first CRL meanwhile: number after theirs.
        return PlatformCRL.objects.select_for_update().get(kind=kind)


def _device_ca_entries() -> list[crl.RevokedEntry]:
    rows = RevokedCertificate.objects.filter(ca_certificate__isnull=True).order_by("revoked_at", "id")
    return [
        crl.RevokedEntry(serial=int(serial, 16), revoked_at=revoked_at, reason=reason)
        for serial, revoked_at, reason in rows.values_list("serial_hex", "revoked_at", "reason")
    ]
