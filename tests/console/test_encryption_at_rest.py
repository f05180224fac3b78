"""Private keys and PSKs are stored encrypted with the key from settings, never as plaintext."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from iothub_console import encryption
from products.models import Device, PlatformCA, Product
from tests.product_console import add_url, make_device, make_product

pytestmark = pytest.mark.django_db


def raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_generated_private_key_is_ciphertext_in_the_database(user):
    device = make_device(make_product(user, "thermometers"), "dev_01")

    stored = raw("products_device", "private_key_pem", device.pk)

    assert "PRIVATE KEY" not in stored
    assert stored != device.private_key_pem
    assert encryption.decrypt(stored) == device.private_key_pem
    assert Device.objects.get(pk=device.pk).private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")


def test_psk_is_ciphertext_in_the_database(user):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    device = make_device(product, "dev_01", psk="c2l4dGVlbiBieXRlIGtleQ==")

    stored = raw("products_device", "psk", device.pk)

    assert "c2l4dGVlbiBieXRlIGtleQ==" not in stored
    assert encryption.decrypt(stored) == "c2l4dGVlbiBieXRlIGtleQ=="


def test_platform_ca_keys_are_ciphertext_in_the_database(user):
    make_device(make_product(user, "thermometers"), "dev_01")

    rows = list(PlatformCA.objects.all())

    assert {row.kind for row in rows} == {"root", "device"}
    for row in rows:
        assert "PRIVATE KEY" not in raw("products_platformca", "private_key_pem", row.pk)
        assert row.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")


def test_the_same_secret_encrypts_differently_each_time(user):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    first = make_device(product, "dev_01", psk="c2VjcmV0")
    second = make_device(product, "dev_02", psk="c2VjcmV0")

    assert raw("products_device", "psk", first.pk) != raw("products_device", "psk", second.pk)


def test_empty_secrets_stay_empty(user):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    device = make_device(product, "dev_01")

    assert raw("products_device", "private_key_pem", device.pk) == ""


def test_a_different_encryption_key_cannot_read_the_secrets(user, settings):
    device = make_device(make_product(user, "thermometers"), "dev_01")
    settings.IOTHUB_ENCRYPTION_KEY = Fernet.generate_key().decode()

    with pytest.raises(ImproperlyConfigured, match="IOTHUB_ENCRYPTION_KEY"):
        Device.objects.get(pk=device.pk)


def test_psk_is_not_logged_when_a_device_is_added(signed_in_client, user, caplog):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    caplog.set_level(logging.DEBUG)

    signed_in_client.post(add_url(product), {"name": "dev_01", "psk": "bm90IGluIHRoZSBsb2dz"})

    assert Device.objects.get(product=product).psk == "bm90IGluIHRoZSBsb2dz"
    assert "bm90IGluIHRoZSBsb2dz" not in caplog.text
