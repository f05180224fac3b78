"""Shared steps for the product and device tests: CAs, products, devices, uploads, assertions."""

from __future__ import annotations

import re

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.urls import reverse
from django.utils.html import escape

from certificates import services as ca_services
from certificates.models import CACertificate
from products import services
from products.models import PLATFORM_CA_NAME, Device, Product

from . import pki
from .certificate_console import assert_field_error  # noqa: F401  (shared by the product tests)

CREATE_URL = "/products/create/"
LIST_URL = "/products/"
CUSTOM_CA_NAME = "Device Root CA"


def register_ca(owner: AbstractBaseUser, ca: pki.Issued, name: str = "device_root_ca") -> CACertificate:
    """Register `ca` for `owner` through the service, with a proof for the current code."""
    code = ca_services.current_authentication_code(owner=owner).code
    verification = pki.make_verification(code, ca)
    return ca_services.register_ca_certificate(
        owner=owner, name=name, certificate_data=ca.pem, verification_data=verification.pem
    )


def custom_ca() -> pki.Issued:
    """The CA that signs the custom-CA products' device certificates (cached RSA key, slot 0)."""
    return pki.make_ca(CUSTOM_CA_NAME)


def product_form(**overrides) -> dict:
    """The Create Product form as a browser submits it, with Platform CA unless told otherwise."""
    data = {
        "region": "gz",
        "product_type": "0",
        "name": "thermometers",
        "auth_method": "certificate",
        "ca_certificate": PLATFORM_CA_NAME,
        "device_key_algorithm": "ec-p256",
        "data_format": "json",
        "description": "",
    }
    data.update(overrides)
    return data


def make_product(
    owner: AbstractBaseUser,
    name: str = "thermometers",
    *,
    auth_method: str = Product.AuthMethod.CERTIFICATE,
    ca_certificate: CACertificate | None = None,
    device_key_algorithm: str = Product.KeyAlgorithm.EC_P256,
) -> Product:
    return services.create_product(
        owner=owner,
        name=name,
        auth_method=auth_method,
        ca_certificate=ca_certificate,
        device_key_algorithm=device_key_algorithm,
    )


def make_device(product: Product, name: str = "dev_01", **credentials) -> Device:
    return services.create_device(
        product=product, name=name, credentials=services.DeviceCredentials(**credentials)
    )


def device_leaf(product: Product, device_name: str, issuer: pki.Issued, **kwargs) -> pki.Issued:
    """A device certificate for `product` as the Add Device page asks: CN = Product ID + name."""
    kwargs.setdefault("extended_key_usage", pki.CLIENT_AUTH)
    return pki.make_leaf(f"{product.product_id}{device_name}", issuer, **kwargs)


def upload(filename: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(filename, data, content_type="application/octet-stream")


def add_url(product: Product) -> str:
    return reverse("products:device_add", args=[product.product_id])


def devices_url(product: Product) -> str:
    return reverse("products:product_devices", args=[product.product_id])


def device_url(device: Device, action: str = "device_detail") -> str:
    return reverse(f"products:{action}", args=[device.product.product_id, device.name])


def text(response: HttpResponse) -> str:
    """The page's HTML with runs of whitespace made single spaces, as a reader sees it."""
    return re.sub(r"\s+", " ", response.content.decode())


def assert_message(response: HttpResponse, message: str, level: str = "danger") -> None:
    """A flash message of `level` (danger, success, info) holding exactly `message`."""
    content = response.content.decode()
    alerts = re.findall(
        rf'<div class="alert alert-{level} alert-dismissible[^>]*>(.*?)</div>', content, re.DOTALL
    )
    assert any(escape(message) in alert for alert in alerts), f"no {level} message {message!r} on the page"
