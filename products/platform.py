"""The console's own certificate authorities, created the first time they are needed."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509 as cx509
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from certificates import issuance, x509

from .models import PlatformCA

ORGANIZATION = "IoT Hub Console"
ROOT_COMMON_NAME = "IoT Hub Console Platform Root CA"
DEVICE_COMMON_NAME = "IoT Hub Console Platform Device CA"


@dataclass(frozen=True)
class Authority:
    certificate: cx509.Certificate
    private_key: issuance.PrivateKey
    certificate_pem: str
    # Where this CA publishes its CRL: the CRL Distribution Point of what it issues.
    crl_url: str


def crl_url(kind: str) -> str:
    """The absolute URL of the CRL of the Platform CA of `kind` (served without sign-in)."""
    return settings.IOTHUB_PUBLIC_URL + reverse("crl:platform_crl", args=[kind])


def _loaded(row: PlatformCA) -> Authority:
    return Authority(
        certificate=cx509.load_pem_x509_certificate(row.certificate_pem.encode("ascii")),
        private_key=issuance.load_private_key_pem(row.private_key_pem),
        certificate_pem=row.certificate_pem,
        crl_url=crl_url(row.kind),
    )


def _get_or_create(kind: str, make) -> Authority:
    row = PlatformCA.objects.filter(kind=kind).first()
    if row is not None:
        return _loaded(row)
    certificate, key = make()
    try:
        with transaction.atomic():
            row = PlatformCA.objects.create(
                kind=kind,
                certificate_pem=x509.to_pem(certificate),
                private_key_pem=issuance.private_key_to_pem(key),
            )
    except IntegrityError:
        # Another request made it first; use theirs so every device shares one CA.
        row = PlatformCA.objects.get(kind=kind)
    return _loaded(row)


def root_ca() -> Authority:
    return _get_or_create(
        PlatformCA.Kind.ROOT,
        lambda: issuance.make_root_ca(ROOT_COMMON_NAME, ORGANIZATION, timezone.now()),
    )


def device_ca() -> Authority:
    def make():
        root = root_ca()
        return issuance.make_intermediate_ca(
            DEVICE_COMMON_NAME,
            ORGANIZATION,
            root.certificate,
            root.private_key,
            timezone.now(),
            crl_url=root.crl_url,
        )

    return _get_or_create(PlatformCA.Kind.DEVICE, make)
