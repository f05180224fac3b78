"""Revoking, renewing and re-trusting device certificates; shared by the console and the API.

Every change that takes a certificate away from a device announces it
(`products.signals.revoke_access`) in its own transaction, so the brokers cut the
device off; the Platform device CA's CRL is re-signed in that transaction too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509 as cx509
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.locking import lock_account
from audit import services as audit
from certificates import crl, x509
from certificates.models import CACertificate
from iothub_console.errors import NotFound, ServiceError
from iothub_console.validators import INVALID_VALUE_CODE
from products import services as product_services
from products.models import Device, PlatformCA, Product
from products.signals import revoke_access

from . import platform_crl
from .models import PlatformCRL, PreviousCertificate, RevokedCertificate, SecondCA, UploadedCRL

# Until the device first connects with its new certificate, or this long, the old one works.
RENEWAL_OVERLAP = timedelta(days=7)
# The reasons the device page offers (RFC 5280 names).
REVOCATION_REASONS = (
    RevokedCertificate.Reason.KEY_COMPROMISE,
    RevokedCertificate.Reason.SUPERSEDED,
    RevokedCertificate.Reason.CESSATION_OF_OPERATION,
)
# Serials per query when matching a CRL against devices: under every database's parameter limit.
SERIALS_PER_QUERY = 500

CERT_REVOKED_CODE = "UnsupportedOperation.CertificateRevoked"
CRL_INVALID_CODE = "InvalidParameterValue.CRLInvalid"
SECOND_CA_CODE = "UnsupportedOperation.SecondCANotAllowed"

REASON_FIELD = "reason"
CRL_FIELD = "crl_file"
SECOND_CA_FIELD = "ca_certificate"

NO_CERTIFICATE = "This device authenticates with a key; it has no certificate to revoke or renew."
UNKNOWN_REASON = "Choose a reason: key compromise, superseded or cessation of operation."
ALREADY_REVOKED = "This certificate was already revoked on {date} ({reason})."
CERTIFICATE_WAS_REVOKED = (
    "This certificate was revoked on {date} ({reason}) and cannot be used again. "
    "Upload a newly issued certificate."
)
CERTIFICATE_IN_CRL = (
    'This certificate (serial {serial}) is listed as revoked in the CRL uploaded for "{ca}". '
    "Upload a newly issued certificate."
)
CERTIFICATE_UNCHANGED = "This is the device's current certificate. Upload a newly issued one."
NOT_A_CUSTOM_CA_PRODUCT = (
    "Only a product whose devices use one of your CA certificates can have a second CA; "
    "this product's device certificates are issued by {ca}."
)
# Why a renewed-away certificate was revoked, as the Audit Log says.
SUPERSEDED_NEW_CONNECTED = "the device connected with its new certificate"
SUPERSEDED_OVERLAP_ENDED = "the 7-day overlap ended"
SUPERSEDED_BY_RENEWAL = "the device was renewed again"
SUPERSEDED_WITH_SUCCESSOR = "its successor was revoked"
SAME_CA = 'The CA "{name}" already issues this product\'s device certificates.'
NO_SECOND_CA = "This product has no second CA."


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


# Which CA issued a certificate --------------------------------------------------------


def product_cas(product: Product) -> list[CACertificate]:
    """The customer CAs whose device certificates the product accepts: its CA, then its second CA."""
    cas = [product.ca_certificate] if product.ca_certificate is not None else []
    second = SecondCA.objects.filter(product=product).select_related("ca_certificate").first()
    if second is not None:
        cas.append(second.ca_certificate)
    return cas


def _issuing_ca(product: Product, certificate: cx509.Certificate) -> CACertificate | None:
    """The product's customer CA that issued `certificate`; None for the Platform device CA."""
    cas = product_cas(product)
    for ca in cas:
        if certificate.issuer == x509.load_certificate(ca.certificate_pem.encode("ascii")).subject:
            return ca
    return cas[0] if cas else None


def _load(pem: str) -> cx509.Certificate:
    return x509.load_certificate(pem.encode("ascii"))


# Revocation -----------------------------------------------------------------------


def revocation_of(device: Device) -> RevokedCertificate | None:
    """The revocation of the device's current certificate, if it was revoked."""
    if not device.certificate_fingerprint:
        return None
    return RevokedCertificate.objects.filter(fingerprint=device.certificate_fingerprint).first()


def revoke_certificate(*, device: Device, reason: str) -> RevokedCertificate:
    """Revoke the device's certificate: the brokers cut it off and refuse it from now on."""
    if not device.certificate_pem:
        raise ServiceError(product_services.WRONG_AUTH_TYPE_CODE, NO_CERTIFICATE)
    if reason not in REVOCATION_REASONS:
        raise ServiceError(INVALID_VALUE_CODE, UNKNOWN_REASON, REASON_FIELD)
    product = device.product
    now = timezone.now()
    with transaction.atomic():
        lock_account(product.owner)
        locked = Device.objects.select_for_update().get(pk=device.pk)
        already = RevokedCertificate.objects.filter(fingerprint=locked.certificate_fingerprint).first()
        if already is not None:
            raise ServiceError(
                CERT_REVOKED_CODE,
                ALREADY_REVOKED.format(date=_date(already.revoked_at), reason=already.get_reason_display()),
            )
        issuer = _issuing_ca(product, _load(locked.certificate_pem))
        revocation = RevokedCertificate.objects.create(
            owner_id=product.owner_id,
            device=locked,
            device_name=locked.name,
            ca_certificate=issuer,
            serial_hex=locked.certificate_serial_hex,
            fingerprint=locked.certificate_fingerprint,
            reason=reason,
            source=RevokedCertificate.Source.CONSOLE,
            revoked_at=now,
        )
        # A certificate a renewal replaced must not outlive the revocation of its successor.
        previous = PreviousCertificate.objects.filter(device=locked).first()
        if previous is not None:
            _supersede(previous, locked, now, SUPERSEDED_WITH_SUCCESSOR)
        audit.record_devices(
            audit.Action.CERTIFICATE_REVOKED,
            product,
            [locked.name],
            detail=f"Serial {locked.certificate_serial_hex}: {revocation.get_reason_display()}",
        )
        revoke_access(client_ids=[locked.client_id])
        # The Platform device CA's CRL lists what it issued: re-signed when that changed.
        if issuer is None or (previous is not None and previous.ca_certificate_id is None):
            platform_crl.rebuild(PlatformCA.Kind.DEVICE, now)
    return revocation


def _supersede(previous: PreviousCertificate, device: Device, now: datetime, why: str) -> None:
    """The renewed-away certificate stops working: revoked as superseded, forgotten as previous."""
    _, created = RevokedCertificate.objects.get_or_create(
        fingerprint=previous.fingerprint,
        defaults={
            "owner_id": device.product.owner_id,
            "device": device,
            "device_name": device.name,
            "ca_certificate_id": previous.ca_certificate_id,
            "serial_hex": previous.serial_hex,
            "reason": RevokedCertificate.Reason.SUPERSEDED,
            "source": RevokedCertificate.Source.RENEWAL,
            "revoked_at": now,
        },
    )
    previous.delete()
    if created:
        audit.record_devices(
            audit.Action.CERTIFICATE_REVOKED,
            device.product,
            [device.name],
            detail=f"Serial {previous.serial_hex}: Superseded ({why})",
        )


# Platform CRLs --------------------------------------------------------------------


def platform_crl_to_serve(kind: str) -> PlatformCRL:
    """The Platform CA's CRL, fresh: rebuilt when missing or near its nextUpdate."""
    now = timezone.now()
    row = PlatformCRL.objects.filter(kind=kind).first()
    if platform_crl.needs_rebuild(row, now):
        # Renewals past their overlap become revocations first, so the new CRL lists them.
        supersede_overdue(now)
        return platform_crl.rebuild(kind, now)
    assert row is not None  # needs_rebuild is True without a row
    return row


# Customer CRLs --------------------------------------------------------------------


def upload_crl(*, ca_certificate: CACertificate, data: bytes) -> tuple[UploadedCRL, list[Device]]:
    """Hold the CA's newest CRL; the devices whose certificates it lists are cut off.

    Returns the stored CRL and the devices newly revoked by it. A CRL that is not the
    CA's (issuer, signature), lapsed, or older than the one held changes nothing.
    """
    now = timezone.now()
    ca = _load(ca_certificate.certificate_pem)
    try:
        info = crl.verify_crl(data, ca, now)
    except x509.CertificateError as error:
        raise ServiceError(CRL_INVALID_CODE, error.message, CRL_FIELD) from None
    with transaction.atomic():
        lock_account(ca_certificate.owner)
        held = UploadedCRL.objects.select_for_update().filter(ca_certificate=ca_certificate).first()
        try:
            crl.check_not_older(
                info,
                held_number=held.number if held else None,
                held_this_update=held.this_update if held else None,
            )
        except x509.CertificateError as error:
            raise ServiceError(CRL_INVALID_CODE, error.message, CRL_FIELD) from None
        stored, _ = UploadedCRL.objects.update_or_create(
            ca_certificate=ca_certificate,
            defaults={
                "number": info.number,
                "der": info.der,
                "this_update": info.this_update,
                "next_update": info.next_update,
                "revoked_count": len(info.entries),
            },
        )
        revoked = _revoke_listed(ca_certificate, ca, info, now)
        audit.record_ca(
            audit.Action.CRL_UPLOADED,
            ca_certificate,
            detail=f"CRL number {info.number if info.number is not None else '—'}: "
            f"{len(info.entries):,} revoked serial(s), {len(revoked):,} device(s) cut off",
        )
        revoke_access(client_ids=[device.client_id for device in revoked])
    return stored, revoked


def _revoke_listed(
    ca_certificate: CACertificate, ca: cx509.Certificate, info: crl.CRLInfo, now
) -> list[Device]:
    """Record a revocation for every device certificate of `ca` that the CRL lists."""
    entries = {entry.serial_hex: entry for entry in info.entries}
    serials = list(entries)
    trusting = Q(product__ca_certificate=ca_certificate) | Q(
        product__second_ca__ca_certificate=ca_certificate
    )
    devices: list[Device] = []
    previous: list[PreviousCertificate] = []
    for start in range(0, len(serials), SERIALS_PER_QUERY):
        chunk = serials[start : start + SERIALS_PER_QUERY]
        devices += Device.objects.filter(trusting, certificate_serial_hex__in=chunk).select_related("product")
        previous += PreviousCertificate.objects.filter(
            ca_certificate=ca_certificate, serial_hex__in=chunk
        ).select_related("device__product")
    known = set(
        RevokedCertificate.objects.filter(
            fingerprint__in=[d.certificate_fingerprint for d in devices] + [p.fingerprint for p in previous]
        ).values_list("fingerprint", flat=True)
    )
    rows: list[RevokedCertificate] = []
    cut_off: dict[int, Device] = {}

    def revoke(device: Device, fingerprint: str, serial: str) -> None:
        entry = entries[serial]
        reason = entry.reason if entry.reason in RevokedCertificate.Reason.values else "unspecified"
        rows.append(
            RevokedCertificate(
                owner_id=ca_certificate.owner_id,
                device=device,
                device_name=device.name,
                ca_certificate=ca_certificate,
                serial_hex=serial,
                fingerprint=fingerprint,
                reason=reason,
                source=RevokedCertificate.Source.CRL,
                revoked_at=min(entry.revoked_at, now),
            )
        )
        known.add(fingerprint)
        cut_off[device.pk] = device

    for device in devices:
        # The serial alone could be another CA's: the certificate must name this CA as issuer.
        if device.certificate_fingerprint not in known and _load(device.certificate_pem).issuer == ca.subject:
            revoke(device, device.certificate_fingerprint, device.certificate_serial_hex)
    for old in previous:
        if old.fingerprint not in known:
            revoke(old.device, old.fingerprint, old.serial_hex)
        old.delete()
    RevokedCertificate.objects.bulk_create(rows)
    by_product: dict[int, list[Device]] = {}
    for device in cut_off.values():
        by_product.setdefault(device.product_id, []).append(device)
    for product_devices in by_product.values():
        audit.record_devices(
            audit.Action.CERTIFICATE_REVOKED,
            product_devices[0].product,
            [device.name for device in product_devices],
            detail=f'Listed in the CRL uploaded for "{ca_certificate.name}"',
        )
    return list(cut_off.values())


def uploaded_crl(ca_certificate: CACertificate) -> UploadedCRL | None:
    return UploadedCRL.objects.filter(ca_certificate=ca_certificate).first()


# Renewal --------------------------------------------------------------------------


def renew_certificate(*, device: Device, credentials: product_services.DeviceCredentials) -> Device:
    """Give the device a new certificate; its old one keeps working for the overlap.

    Platform-CA devices get a new key (downloadable once) or their CSR signed;
    custom-CA devices take an uploaded replacement issued by the product's CA or its
    second CA, with every check Add Device makes.
    """
    product = device.product
    if not product.uses_certificates:
        raise ServiceError(product_services.WRONG_AUTH_TYPE_CODE, NO_CERTIFICATE)
    replacement = product_services.prepare_device(
        product=product,
        name=device.name,
        credentials=credentials,
        issuer=_upload_issuer(product, credentials),
    )
    now = timezone.now()
    with transaction.atomic():
        lock_account(product.owner)
        locked = Device.objects.select_for_update().get(pk=device.pk)
        locked.product = product
        _refuse_unusable(replacement, locked)
        old_revoked = RevokedCertificate.objects.filter(fingerprint=locked.certificate_fingerprint).exists()
        superseded = PreviousCertificate.objects.filter(device=locked).first()
        if superseded is not None:
            # Renewed again within the overlap: the oldest certificate goes now.
            _supersede(superseded, locked, now, SUPERSEDED_BY_RENEWAL)
        if not old_revoked:
            PreviousCertificate.objects.create(
                device=locked,
                certificate_pem=locked.certificate_pem,
                fingerprint=locked.certificate_fingerprint,
                serial_hex=locked.certificate_serial_hex,
                ca_certificate=_issuing_ca(product, _load(locked.certificate_pem)),
                accepted_until=now + RENEWAL_OVERLAP,
            )
        for field in (
            "key_origin",
            "certificate_pem",
            "certificate_fingerprint",
            "certificate_serial_hex",
            "certificate_not_after",
            "private_key_pem",
        ):
            setattr(locked, field, getattr(replacement, field))
        locked.private_key_fetched = False
        locked.save()
        audit.record_devices(
            audit.Action.CERTIFICATE_RENEWED,
            product,
            [locked.name],
            detail=f"Serial {locked.certificate_serial_hex}: {locked.get_key_origin_display()}",
        )
        if superseded is not None and superseded.ca_certificate_id is None:
            platform_crl.rebuild(PlatformCA.Kind.DEVICE, now)
    return locked


def _upload_issuer(
    product: Product, credentials: product_services.DeviceCredentials
) -> cx509.Certificate | None:
    """The CA an uploaded replacement must be issued by: the second CA when the certificate names it."""
    if not credentials.certificate_data:
        return None
    second = SecondCA.objects.filter(product=product).select_related("ca_certificate").first()
    if second is None:
        return None
    try:
        certificate = x509.load_certificate(credentials.certificate_data)
    except x509.CertificateError:
        return None  # prepare_device says what is wrong with the file
    second_ca = _load(second.ca_certificate.certificate_pem)
    return second_ca if certificate.issuer == second_ca.subject else None


def _refuse_unusable(replacement: Device, device: Device) -> None:
    fingerprint = replacement.certificate_fingerprint
    if fingerprint == device.certificate_fingerprint:
        raise ServiceError(
            product_services.CERT_INVALID_CODE,
            CERTIFICATE_UNCHANGED,
            product_services.DEVICE_CERTIFICATE_FIELD,
        )
    if (
        Device.objects.filter(certificate_fingerprint=fingerprint).exists()
        or PreviousCertificate.objects.filter(fingerprint=fingerprint).exists()
    ):
        raise ServiceError(
            product_services.CERT_INVALID_CODE,
            product_services.CERTIFICATE_IN_USE,
            product_services.DEVICE_CERTIFICATE_FIELD,
        )
    revoked = RevokedCertificate.objects.filter(fingerprint=fingerprint).first()
    if revoked is not None:
        raise ServiceError(
            CERT_REVOKED_CODE,
            CERTIFICATE_WAS_REVOKED.format(
                date=_date(revoked.revoked_at), reason=revoked.get_reason_display()
            ),
            product_services.DEVICE_CERTIFICATE_FIELD,
        )
    if replacement.key_origin == Device.KeyOrigin.UPLOADED_CERTIFICATE:
        issuer = _issuing_ca(device.product, _load(replacement.certificate_pem))
        held = uploaded_crl(issuer) if issuer is not None else None
        if (
            issuer is not None
            and held is not None
            and replacement.certificate_serial_hex in crl.read_crl(bytes(held.der)).revoked_serials
        ):
            raise ServiceError(
                CERT_REVOKED_CODE,
                CERTIFICATE_IN_CRL.format(serial=replacement.certificate_serial_hex, ca=issuer.name),
                product_services.DEVICE_CERTIFICATE_FIELD,
            )


def renewed_since(device: Device, since: datetime | None) -> bool:
    """Whether the device was renewed at or after `since` and still has that renewal's overlap."""
    return (
        since is not None and PreviousCertificate.objects.filter(device=device, created__gte=since).exists()
    )


def previous_certificate(device: Device) -> PreviousCertificate | None:
    return PreviousCertificate.objects.filter(device=device).first()


def note_connection(*, device_pk: int, cert_pem: str | None, allowed: bool) -> None:
    """After the broker asked about a device in the middle of a renewal.

    Its first connection with the new certificate ends the overlap: the old one is
    revoked as superseded (no kick: the connection being made is the new one). An
    overlap that ran out ends too, and then any connection still on the old
    certificate is cut.
    """
    now = timezone.now()
    with transaction.atomic():
        previous = (
            PreviousCertificate.objects.select_for_update()
            .filter(device_id=device_pk)
            .select_related("device__product")
            .first()
        )
        if previous is None:
            return
        overdue = previous.accepted_until <= now
        if not overdue:
            if not (allowed and cert_pem):
                return
            try:
                presented = x509.fingerprint_sha256(
                    x509.load_certificate(cert_pem.encode("utf-8", "replace"))
                )
            except x509.CertificateError:
                return
            if presented == previous.fingerprint:
                return
        device = previous.device
        platform_issued = previous.ca_certificate_id is None
        _supersede(previous, device, now, SUPERSEDED_OVERLAP_ENDED if overdue else SUPERSEDED_NEW_CONNECTED)
        if overdue:
            revoke_access(client_ids=[device.client_id])
        if platform_issued:
            platform_crl.rebuild(PlatformCA.Kind.DEVICE, now)


def supersede_overdue(now: datetime | None = None) -> int:
    """Revoke, as superseded, every renewed-away certificate whose overlap ran out; how many."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        overdue = (
            PreviousCertificate.objects.select_for_update()
            .filter(accepted_until__lte=now)
            .select_related("device__product")
        )
        platform_issued = False
        for previous in overdue:
            platform_issued |= previous.ca_certificate_id is None
            device = previous.device
            _supersede(previous, device, now, SUPERSEDED_OVERLAP_ENDED)
            revoke_access(client_ids=[device.client_id])
            count += 1
        if platform_issued:
            platform_crl.rebuild(PlatformCA.Kind.DEVICE, now)
    return count


# CA rollover ----------------------------------------------------------------------


def set_second_ca(*, product: Product, ca_certificate: CACertificate) -> SecondCA:
    """Trust a second CA for the product's devices while they move to it."""
    if ca_certificate.owner_id != product.owner_id:
        raise NotFound("ResourceNotFound.CACertNotExist", "There is no such CA certificate.", SECOND_CA_FIELD)
    if not product.ca_certificate_id:
        raise ServiceError(
            SECOND_CA_CODE, NOT_A_CUSTOM_CA_PRODUCT.format(ca=product.ca_display_name), SECOND_CA_FIELD
        )
    if ca_certificate.pk == product.ca_certificate_id:
        raise ServiceError(SECOND_CA_CODE, SAME_CA.format(name=ca_certificate.name), SECOND_CA_FIELD)
    with transaction.atomic():
        lock_account(product.owner)
        replaced = SecondCA.objects.filter(product=product).exclude(ca_certificate=ca_certificate).exists()
        second, _ = SecondCA.objects.update_or_create(
            product=product, defaults={"ca_certificate": ca_certificate}
        )
        audit.record_product(audit.Action.SECOND_CA_ADDED, product, detail=f"CA: {ca_certificate.name}")
        if replaced:
            # Devices of the CA it replaced lose their trust: their connections close.
            revoke_access(product_ids=[product.product_id])
    return second


def remove_second_ca(*, product: Product) -> None:
    """Stop trusting the product's second CA; devices it issued are cut off."""
    with transaction.atomic():
        lock_account(product.owner)
        second = SecondCA.objects.select_related("ca_certificate").filter(product=product).first()
        if second is None:
            raise ServiceError(SECOND_CA_CODE, NO_SECOND_CA, SECOND_CA_FIELD)
        second.delete()
        audit.record_product(
            audit.Action.SECOND_CA_REMOVED, product, detail=f"CA: {second.ca_certificate.name}"
        )
        revoke_access(product_ids=[product.product_id])


def promote_second_ca(*, product: Product) -> CACertificate:
    """The second CA becomes the product's CA and the old one its second CA: the rollover's last step.

    Devices of both keep connecting; removing the second CA afterwards retires the old one.
    """
    with transaction.atomic():
        lock_account(product.owner)
        second = (
            SecondCA.objects.select_for_update()
            .select_related("ca_certificate")
            .filter(product=product)
            .first()
        )
        if second is None:
            raise ServiceError(SECOND_CA_CODE, NO_SECOND_CA, SECOND_CA_FIELD)
        old, new = product.ca_certificate, second.ca_certificate
        assert old is not None  # set_second_ca gives second CAs only to products with their own CA
        product.ca_certificate = new
        product.save(update_fields=["ca_certificate", "last_updated"])
        second.ca_certificate = old
        second.save(update_fields=["ca_certificate", "last_updated"])
        audit.record_product(
            audit.Action.PRODUCT_CA_SWAPPED, product, detail=f"CA: {new.name}; second CA: {old.name}"
        )
    return new


def second_ca(product: Product) -> CACertificate | None:
    second = SecondCA.objects.filter(product=product).select_related("ca_certificate").first()
    return second.ca_certificate if second else None
