"""Certificate Management's reads, one function each, for the console, the API and services."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from iothub_console.errors import NotFound
from iothub_console.validators import has_control_characters
from products.models import Product

from .models import AuthenticationCode, CACertificate

CA_NOT_EXIST_CODE = "ResourceNotFound.CACertNotExist"
CA_NOT_FOUND = 'There is no CA certificate named "{name}".'
NO_SUCH_CA = "There is no such CA certificate."
CA_FIELD = "ca_certificate"


def ca_certificates_for(owner: User) -> QuerySet[CACertificate]:
    """The account's CAs, newest first, each with the number of products it issues for."""
    return CACertificate.objects.filter(owner=owner).with_product_counts()


def ca_certificates_oldest_first(owner: User) -> QuerySet[CACertificate]:
    return CACertificate.objects.filter(owner=owner).order_by("created", "id")


def ca_certificate_names(owner: User) -> list[str]:
    return list(CACertificate.objects.filter(owner=owner).order_by("name").values_list("name", flat=True))


def has_ca_certificates(owner: User) -> bool:
    return CACertificate.objects.filter(owner=owner).exists()


def get_ca_certificate(*, owner: User, pk: int) -> CACertificate:
    try:
        return CACertificate.objects.get(owner=owner, pk=pk)
    except CACertificate.DoesNotExist:
        raise NotFound(CA_NOT_EXIST_CODE, NO_SUCH_CA, CA_FIELD) from None


def get_ca_certificate_by_name(*, owner: User, name: str) -> CACertificate:
    # No CA name holds a control character, and PostgreSQL refuses NUL in a query.
    if not has_control_characters(name):
        ca_certificate = CACertificate.objects.filter(owner=owner, name=name).first()
        if ca_certificate is not None:
            return ca_certificate
    raise NotFound(CA_NOT_EXIST_CODE, CA_NOT_FOUND.format(name=name), CA_FIELD)


def bound_products(ca_certificate: CACertificate) -> QuerySet:
    """The products whose device certificates the CA issues (or, as a second CA, also issues), by name."""
    return Product.objects.filter(
        Q(ca_certificate=ca_certificate) | Q(second_ca__ca_certificate=ca_certificate)
    ).order_by("name")


def bound_product_names(ca_certificate: CACertificate) -> list[str]:
    return list(bound_products(ca_certificate).values_list("name", flat=True))


def find_authentication_code(*, owner: User, code: str) -> AuthenticationCode | None:
    """The account's code with that value (current or not), or None."""
    if has_control_characters(code):
        return None
    return AuthenticationCode.objects.filter(owner=owner, code=code).first()


def latest_open_authentication_code(owner: User) -> AuthenticationCode | None:
    """The newest code neither used nor retired (it may still have expired)."""
    return (
        AuthenticationCode.objects.filter(owner=owner, used_at=None, retired_at=None)
        .order_by("-created", "-id")
        .first()
    )
