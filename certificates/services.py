"""Certificate Management rules, shared by the console and the Tencent Cloud API.

Every write happens inside one transaction that first locks the account's row, so
that two requests from the same account (two browser tabs, a script in a loop) run
one after the other: the per-account limit and the single-use authentication code
hold under concurrency.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509 as cx509
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.locking import lock_account
from audit import services as audit
from iothub_console.errors import ServiceError
from iothub_console.validators import check

from . import selectors, validators, x509
from .models import AuthenticationCode, CACertificate
from .validators import CA_INVALID_CODE

# Tencent Cloud error codes for these rules.
CA_NOT_MATCH_CODE = "InvalidParameterValue.CACertNotMatch"
CA_LIMIT_CODE = "LimitExceeded.CACertLimit"
CA_NAME_REPEAT_CODE = "LimitExceeded.CACertNameRepeat"
CA_REPEAT_CODE = "LimitExceeded.CARepeat"
CA_BOUND_CODE = "LimitExceeded.CAAlreadyBindProduct"

NAME_TAKEN = 'You already have a CA certificate named "{name}". Choose another name.'
CA_LIMIT_REACHED = (
    "You already have {limit} CA certificates, the most an account can hold. "
    "Delete one you no longer use before adding another."
)
ALREADY_REGISTERED = 'This CA certificate is already registered as "{name}".'
CODE_ALREADY_USED = (
    "The verification certificate was made for an authentication code that was already "
    "used to register a CA. Make a new verification certificate with your current "
    "code (shown on Add Certificate; DescribeAuthenticationCode in the API)."
)
CODE_EXPIRED = (
    "The verification certificate was made for an authentication code that expired on "
    "{date}. Make a new verification certificate with your current code "
    "(shown on Add Certificate; DescribeAuthenticationCode in the API)."
)
CODE_REPLACED = (
    "The verification certificate was made for an authentication code that has since "
    "been replaced by a new one. Make a new verification certificate with your current "
    "code (shown on Add Certificate; DescribeAuthenticationCode in the API)."
)
CA_STILL_BOUND = (
    'The CA certificate "{name}" cannot be deleted while products use it: {products}. '
    "Delete those products or bind them to another CA first."
)
RENEWAL_MUST_KEEP_KEY = (
    '"{name}" is bound to products ({products}), whose device certificates it issued. '
    "Its replacement must be a renewal: the same subject and the same key pair."
)

CA_FIELD = "ca_certificate"
VERIFICATION_FIELD = "verification_certificate"
NAME_FIELD = "name"


def current_authentication_code(*, owner: User) -> AuthenticationCode:
    """The account's code for the next registration, made afresh when none is current."""
    now = timezone.now()
    with transaction.atomic():
        lock_account(owner)
        latest = selectors.latest_open_authentication_code(owner)
        if latest is not None and latest.is_current(now):
            return latest
        return AuthenticationCode.objects.create(owner=owner, created=now)


def regenerate_authentication_code(*, owner: User) -> AuthenticationCode:
    now = timezone.now()
    with transaction.atomic():
        lock_account(owner)
        AuthenticationCode.objects.filter(owner=owner, used_at=None, retired_at=None).update(retired_at=now)
        return AuthenticationCode.objects.create(owner=owner, created=now)


def register_ca_certificate(
    *,
    owner: User,
    name: str,
    certificate_data: bytes,
    verification_data: bytes,
) -> CACertificate:
    """Register a CA after checking it and the proof that its key is held."""
    check(validators.validate_ca_name, name, field=NAME_FIELD)
    now = timezone.now()
    ca, info = _load_ca(certificate_data, now)
    verification = _load_verification(verification_data)
    with transaction.atomic():
        lock_account(owner)
        if CACertificate.objects.filter(owner=owner, name=name).exists():
            raise ServiceError(CA_NAME_REPEAT_CODE, NAME_TAKEN.format(name=name), NAME_FIELD)
        _refuse_already_registered(owner, info)
        limit = settings.IOTHUB_CA_LIMIT
        if CACertificate.objects.filter(owner=owner).count() >= limit:
            raise ServiceError(CA_LIMIT_CODE, CA_LIMIT_REACHED.format(limit=limit))
        _consume_code_proven_by(owner, ca, verification, now)
        certificate = CACertificate(owner=owner, name=name, **_stored_fields(info))
        audit.record_ca(audit.Action.CA_REGISTERED, _save(certificate), detail=f"CN {info.common_name}")
        return certificate


def update_ca_certificate(
    *, ca_certificate: CACertificate, certificate_data: bytes, verification_data: bytes
) -> CACertificate:
    """Replace a CA's certificate (a renewal), with a fresh proof of possession."""
    now = timezone.now()
    ca, info = _load_ca(certificate_data, now)
    verification = _load_verification(verification_data)
    owner = ca_certificate.owner
    with transaction.atomic():
        lock_account(owner)
        bound = selectors.bound_product_names(ca_certificate)
        current = x509.load_certificate(ca_certificate.certificate_pem.encode("ascii"))
        if bound and not x509.same_subject_and_key(current, ca):
            raise ServiceError(
                CA_INVALID_CODE,
                RENEWAL_MUST_KEEP_KEY.format(name=ca_certificate.name, products=", ".join(bound)),
                CA_FIELD,
            )
        _refuse_already_registered(owner, info, exclude_pk=ca_certificate.pk)
        _consume_code_proven_by(owner, ca, verification, now)
        for field, value in _stored_fields(info).items():
            setattr(ca_certificate, field, value)
        audit.record_ca(audit.Action.CA_UPDATED, _save(ca_certificate), detail=f"CN {info.common_name}")
        return ca_certificate


def delete_ca_certificate(*, ca_certificate: CACertificate) -> None:
    with transaction.atomic():
        lock_account(ca_certificate.owner)
        bound = selectors.bound_product_names(ca_certificate)
        if bound:
            raise ServiceError(
                CA_BOUND_CODE,
                CA_STILL_BOUND.format(name=ca_certificate.name, products=", ".join(bound)),
            )
        audit.record_ca(audit.Action.CA_DELETED, ca_certificate)
        ca_certificate.delete()


def _load_ca(data: bytes, now: datetime) -> tuple[cx509.Certificate, x509.CertificateInfo]:
    check(validators.validate_certificate_size, len(data), field=CA_FIELD)
    try:
        ca = x509.load_certificate(data)
        x509.check_ca_certificate(ca, now)
        info = x509.describe_certificate(ca)
    except x509.CertificateError as error:
        raise ServiceError(CA_INVALID_CODE, error.message, CA_FIELD) from None
    for text in (info.subject, info.issuer, info.common_name):
        check(validators.validate_certificate_name_text, text, field=CA_FIELD)
    return ca, info


def _load_verification(data: bytes) -> cx509.Certificate:
    check(validators.validate_certificate_size, len(data), field=VERIFICATION_FIELD)
    try:
        return x509.load_certificate(data)
    except x509.CertificateError as error:
        raise ServiceError(CA_NOT_MATCH_CODE, error.message, VERIFICATION_FIELD) from None


def _refuse_already_registered(
    owner: User, info: x509.CertificateInfo, exclude_pk: int | None = None
) -> None:
    existing = CACertificate.objects.filter(owner=owner, fingerprint_sha256=info.fingerprint_sha256)
    if exclude_pk is not None:
        existing = existing.exclude(pk=exclude_pk)
    same = existing.first()
    if same is not None:
        raise ServiceError(CA_REPEAT_CODE, ALREADY_REGISTERED.format(name=same.name), CA_FIELD)


def _consume_code_proven_by(
    owner: User, ca: cx509.Certificate, verification: cx509.Certificate, now: datetime
) -> None:
    """Check the verification certificate against the code it names, then use the code up.

    Runs inside the caller's transaction with the account locked, so a code cannot be
    used twice by two requests racing each other.
    """
    presented = x509.common_name(verification.subject)
    code = selectors.find_authentication_code(owner=owner, code=presented)
    if code is not None:
        if code.used_at is not None:
            raise ServiceError(CA_NOT_MATCH_CODE, CODE_ALREADY_USED, VERIFICATION_FIELD)
        if code.retired_at is not None:
            raise ServiceError(CA_NOT_MATCH_CODE, CODE_REPLACED, VERIFICATION_FIELD)
        if code.is_expired(now):
            date = code.expires_at.strftime("%Y-%m-%d %H:%M UTC")
            raise ServiceError(CA_NOT_MATCH_CODE, CODE_EXPIRED.format(date=date), VERIFICATION_FIELD)
    # No code of this account has that CN: verification fails on the name, which says so.
    expected = code.code if code is not None else ""
    try:
        x509.verify_proof_of_possession(ca, verification, expected, now)
    except x509.CertificateError as error:
        raise ServiceError(CA_NOT_MATCH_CODE, error.message, VERIFICATION_FIELD) from None
    assert code is not None  # the CN matched, so it is one of the account's codes
    code.used_at = now
    code.save(update_fields=["used_at"])


def _stored_fields(info: x509.CertificateInfo) -> dict:
    return {
        "certificate_pem": info.pem,
        "fingerprint_sha256": info.fingerprint_sha256,
        "subject": info.subject,
        "common_name": info.common_name[:255],
        "issuer": info.issuer,
        "serial_hex": info.serial_hex,
        "not_before": info.not_before,
        "not_after": info.not_after,
        "key_description": info.key_description,
        "signature_hash": info.signature_hash,
    }


def _save(certificate: CACertificate) -> CACertificate:
    certificate.full_clean()
    try:
        certificate.save()
    except IntegrityError:
        # The account lock makes this unreachable in practice; a clear refusal is
        # still better than a 500 if a constraint catches what the checks missed.
        raise ServiceError(
            CA_REPEAT_CODE,
            "This CA certificate could not be saved because it conflicts with one already stored.",
            CA_FIELD,
        ) from None
    return certificate
