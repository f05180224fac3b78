"""Add Device to a Key product: a random base64 PSK, or the user's own if it is valid base64."""

from __future__ import annotations

import base64

import pytest
from django.db import connection

from products import services, validators
from products.models import Device, Product
from tests import pki
from tests.product_console import add_url, assert_field_error, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(user):
    return make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)


def raw_psk(device: Device) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT psk FROM products_device WHERE id = %s", [device.pk])
        return cursor.fetchone()[0]


def test_generates_a_random_base64_psk(signed_in_client, product):
    response = signed_in_client.post(add_url(product), {"name": "dev_01", "psk": ""})

    assert response.status_code == 302
    assert response["Location"] == f"/products/{product.product_id}/device/dev_01/"
    device = Device.objects.get(product=product)
    assert device.key_origin == Device.KeyOrigin.PSK
    assert len(base64.b64decode(device.psk, validate=True)) == services.PSK_BYTES
    assert (
        device.certificate_pem == "" and device.certificate_fingerprint == "" and device.private_key_pem == ""
    )
    stored = raw_psk(device)
    assert stored and device.psk not in stored


def test_each_device_gets_its_own_psk(signed_in_client, product):
    signed_in_client.post(add_url(product), {"name": "dev_01"})
    signed_in_client.post(add_url(product), {"name": "dev_02"})

    psks = {device.psk for device in Device.objects.filter(product=product)}
    assert len(psks) == 2


def test_keeps_a_given_base64_psk(signed_in_client, product):
    given = base64.b64encode(b"sixteen byte key").decode()

    response = signed_in_client.post(add_url(product), {"name": "dev_01", "psk": f"  {given} "})

    assert response.status_code == 302
    device = Device.objects.get(product=product)
    assert device.psk == given
    assert given not in raw_psk(device)


@pytest.mark.parametrize(
    "psk",
    ["not base64!", "abc", "=====", "ключ"],
    ids=["punctuation", "bad-padding", "padding-only", "non-ascii"],
)
def test_refuses_a_psk_that_is_not_base64(signed_in_client, product, psk):
    response = signed_in_client.post(add_url(product), {"name": "dev_01", "psk": psk})

    assert_field_error(response, "psk", validators.PSK_NOT_BASE64)
    assert not Device.objects.exists()


def test_service_refuses_a_certificate_for_a_key_product(product):
    leaf = pki.make_leaf(f"{product.product_id}dev_01", pki.make_ca(), extended_key_usage=pki.CLIENT_AUTH)

    with pytest.raises(services.ServiceError) as refused:
        services.create_device(
            product=product, name="dev_01", credentials=services.DeviceCredentials(certificate_data=leaf.pem)
        )

    assert refused.value.message == services.CERTIFICATE_ON_KEY_PRODUCT
    assert not Device.objects.exists()


def test_service_refuses_a_psk_for_a_certificate_product(user):
    product = make_product(user, "thermometers")

    with pytest.raises(services.ServiceError) as refused:
        services.create_device(
            product=product, name="dev_01", credentials=services.DeviceCredentials(psk="c2VjcmV0")
        )

    assert refused.value.message == services.PSK_ON_CERT_PRODUCT
    assert not Device.objects.exists()


def test_add_page_offers_the_psk_field_only(signed_in_client, product):
    response = signed_in_client.get(add_url(product))

    assert response.status_code == 200
    assert set(response.context["form"].fields) == {"name", "psk"}
    assert 'name="psk"' in response.content.decode()
