"""Tencent Cloud API actions write the same entries as the console, by the API key's SecretId."""

from __future__ import annotations

import time

import pytest

from api.models import APIKey
from audit.models import AuditEntry
from products.models import Device, Product
from tests import pki
from tests.api_support import build, call, client_for, create_private_ca
from tests.product_console import make_product
from tests.tencent_sdk import models

from .audit_support import sole_entry

pytestmark = pytest.mark.django_db(transaction=True)
Action = AuditEntry.Action


@pytest.fixture
def api(live_server, user):
    return client_for(live_server, user)


@pytest.fixture
def secret_id(api, user) -> str:
    return APIKey.objects.get(owner=user).secret_id


def in_a_new_second() -> None:
    """The SDK signs the body and the second: DeleteDevice must not reuse DescribeDevice's signature."""
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.02)


def assert_by_api(entry: AuditEntry, secret_id: str) -> None:
    assert (entry.actor, entry.source, entry.ip) == (secret_id, AuditEntry.Source.API, "127.0.0.1")


def test_private_ca_registered_and_deleted(api, user, secret_id):
    create_private_ca(api, "api_ca", pki.make_ca("API Root CA", key=pki.ec_key()))
    entry = sole_entry(user, Action.CA_REGISTERED)
    assert_by_api(entry, secret_id)
    assert entry.object_label == "api_ca"

    api.DeletePrivateCA(build(models.DeletePrivateCARequest, CertName="api_ca"))
    assert_by_api(sole_entry(user, Action.CA_DELETED), secret_id)


def test_product_created_forbidden_and_deleted(api, user, secret_id):
    response = api.CreateProduct(build(models.CreateProductRequest, ProductName="api_product"))
    entry = sole_entry(user, Action.PRODUCT_CREATED)
    assert_by_api(entry, secret_id)
    assert entry.object_id == response.ProductId

    call(api, "SetProductsForbiddenStatus", {"ProductId": [response.ProductId], "Status": 1})
    assert_by_api(sole_entry(user, Action.PRODUCT_FORBIDDEN), secret_id)
    api.DeleteProduct(build(models.DeleteProductRequest, ProductId=response.ProductId))
    assert not Product.objects.exists()
    assert_by_api(sole_entry(user, Action.PRODUCT_DELETED), secret_id)


def test_key_device_added_its_psk_shown_disabled_and_deleted(api, user, secret_id):
    product = make_product(user, "keyed", auth_method=Product.AuthMethod.KEY)
    request = build(models.CreateDeviceRequest, ProductId=product.product_id, DeviceName="k1")
    created = api.CreateDevice(request)
    assert created.DevicePsk
    assert_by_api(sole_entry(user, Action.DEVICE_ADDED), secret_id)
    shown = sole_entry(user, Action.PSK_SHOWN)
    assert_by_api(shown, secret_id)
    assert shown.detail == "Returned by CreateDevice"

    api.DescribeDevice(build(models.DescribeDeviceRequest, ProductId=product.product_id, DeviceName="k1"))
    assert AuditEntry.objects.filter(action=Action.PSK_SHOWN, detail="DescribeDevice").count() == 1

    listing = build(models.DescribeDevicesRequest, ProductId=product.product_id, Offset=0, Limit=10)
    assert [device.DeviceName for device in api.DescribeDevices(listing).Devices] == ["k1"]
    listed = AuditEntry.objects.get(action=Action.PSK_SHOWN, object_type="product")
    assert listed.detail == "DescribeDevices returned the PSKs of 1 device(s): k1"

    call(
        api,
        "UpdateDevicesEnableState",
        {"ProductId": product.product_id, "DeviceNames": ["k1"], "Status": 0},
    )
    assert Device.objects.get(name="k1").enabled is False
    assert_by_api(sole_entry(user, Action.DEVICE_DISABLED), secret_id)
    in_a_new_second()
    api.DeleteDevice(build(models.DeleteDeviceRequest, ProductId=product.product_id, DeviceName="k1"))
    assert_by_api(sole_entry(user, Action.DEVICE_DELETED), secret_id)


def test_platform_device_created_by_the_api_hands_its_key_out_once(api, user, secret_id):
    product = make_product(user, "platform")
    request = build(models.CreateDeviceRequest, ProductId=product.product_id, DeviceName="p1")
    assert "PRIVATE KEY" in api.CreateDevice(request).DevicePrivateKey
    assert_by_api(sole_entry(user, Action.DEVICE_ADDED), secret_id)
    assert_by_api(sole_entry(user, Action.PRIVATE_KEY_DOWNLOADED), secret_id)
    assert not AuditEntry.objects.filter(action=Action.PSK_SHOWN).exists()
