"""Accounts, products and CAs for the measurements, made through the console's own services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509 as cx509
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from certificates import issuance, x509
from certificates import services as certificate_services
from products import services as product_services
from products.models import Product


def make_owner(username: str) -> AbstractBaseUser:
    owner = get_user_model()(username=username)
    owner.set_unusable_password()
    owner.save()
    return owner


def platform_product(owner: AbstractBaseUser, name: str, algorithm: str) -> Product:
    """A Certificate product whose devices get keys and certificates from the Platform CA."""
    return product_services.create_product(
        owner=owner,
        name=name,
        auth_method=Product.AuthMethod.CERTIFICATE,
        ca_certificate=None,
        device_key_algorithm=algorithm,
    )


@dataclass(frozen=True)
class OwnCA:
    """A user's CA, registered in the console, and the product it issues devices for."""

    certificate: cx509.Certificate
    private_key: issuance.PrivateKey
    product: Product


def custom_ca_product(owner: AbstractBaseUser, name: str) -> OwnCA:
    """An EC P-256 CA registered with proof of possession, as a user would, and a product bound to it."""
    now = datetime.now(UTC)
    certificate, key = issuance.make_root_ca("Bench Device CA", "IoT Hub Console Bench", now)
    code = certificate_services.current_authentication_code(owner=owner).code
    verification = issuance.issue_client_certificate(
        code, ec.generate_private_key(ec.SECP256R1()).public_key(), certificate, key, now
    )
    registered = certificate_services.register_ca_certificate(
        owner=owner,
        name=name,
        certificate_data=x509.to_pem(certificate).encode("ascii"),
        verification_data=x509.to_pem(verification).encode("ascii"),
    )
    product = product_services.create_product(
        owner=owner, name=name, auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=registered
    )
    return OwnCA(certificate=certificate, private_key=key, product=product)
