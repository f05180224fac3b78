"""UpdateDevicePSK, DescribeDeviceClientKey (the one-time key) and UpdateDeviceAvailableState."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization

from iothub_console.validators import CONTROL_CHARACTERS_REFUSED
from products import selectors, services, validators
from products.models import Device, Product
from tests.api_support import assert_refused, build, client_for, in_a_new_second
from tests.product_console import assert_message, device_url
from tests.tencent_sdk import models

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PSK = base64.b64encode(b"a new pre-shared key, 24B").decode()


@pytest.fixture
def api(live_server, user):
    return client_for(live_server, user)


@pytest.fixture
def key_product(user) -> Product:
    return services.create_product(
        owner=user, name="keyed", auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )


@pytest.fixture
def platform_product(user) -> Product:
    return services.create_product(
        owner=user, name="platform", auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=None
    )


def make_device(product: Product, name: str = "dev_01") -> Device:
    return services.create_device(product=product, name=name, credentials=services.DeviceCredentials())


def stored(device: Device) -> Device:
    return Device.objects.get(pk=device.pk)


def update_psk(api, product: Product, name: str, psk: str):
    return api.UpdateDevicePSK(
        build(models.UpdateDevicePSKRequest, ProductId=product.product_id, DeviceName=name, Psk=psk)
    )


def client_key(api, product: Product, name: str):
    return api.DescribeDeviceClientKey(
        build(models.DescribeDeviceClientKeyRequest, ProductId=product.product_id, DeviceName=name)
    )


def available_state(api, product: Product, name: str, state: int):
    return api.UpdateDeviceAvailableState(
        build(
            models.UpdateDeviceAvailableStateRequest,
            ProductId=product.product_id,
            DeviceName=name,
            EnableState=state,
        )
    )


# UpdateDevicePSK ----------------------------------------------------------------------


def test_update_device_psk_replaces_the_key(api, key_product):
    device = make_device(key_product)

    update_psk(api, key_product, "dev_01", f"  {NEW_PSK}\n")

    assert stored(device).psk == NEW_PSK
    described = api.DescribeDevice(
        build(models.DescribeDeviceRequest, ProductId=key_product.product_id, DeviceName="dev_01")
    )
    assert described.DevicePsk == NEW_PSK


def test_a_psk_that_is_not_base64_is_refused_as_at_device_creation(api, key_product):
    device = make_device(key_product)
    old_psk = device.psk

    assert_refused(
        lambda: update_psk(api, key_product, "dev_01", "not base64!"),
        "InvalidParameterValue.DefinedPskNotBase64",
        validators.PSK_NOT_BASE64,
    )
    assert stored(device).psk == old_psk


def test_a_certificate_products_device_takes_no_psk(api, platform_product):
    device = make_device(platform_product)

    assert_refused(
        lambda: update_psk(api, platform_product, "dev_01", NEW_PSK),
        "UnauthorizedOperation.ProductNotSupportPSK",
        services.PSK_ON_CERT_PRODUCT,
    )
    assert stored(device).psk == ""


def test_update_psk_of_a_missing_device_is_device_not_exist(api, key_product):
    assert_refused(
        lambda: update_psk(api, key_product, "ghost", NEW_PSK),
        "ResourceNotFound.DeviceNotExist",
        selectors.DEVICE_NOT_FOUND.format(name="ghost"),
    )


def test_a_psk_with_a_control_character_is_refused(api, key_product):
    device = make_device(key_product)
    old_psk = device.psk

    assert_refused(
        lambda: update_psk(api, key_product, "dev_01", NEW_PSK + "\x00"),
        "InvalidParameterValue",
        f"The parameter Psk: {CONTROL_CHARACTERS_REFUSED}",
    )
    assert stored(device).psk == old_psk


# DescribeDeviceClientKey ---------------------------------------------------------------


def test_the_client_key_is_handed_out_once_like_the_consoles_download(
    api, platform_product, signed_in_client
):
    device = make_device(platform_product)
    kept = device.private_key_pem

    first = client_key(api, platform_product, "dev_01")

    assert first.ClientKey == kept
    serialization.load_pem_private_key(first.ClientKey.encode(), password=None)
    after = stored(device)
    assert after.private_key_fetched and after.private_key_pem == ""
    in_a_new_second()  # the same body again
    assert_refused(
        lambda: client_key(api, platform_product, "dev_01"),
        "UnsupportedOperation.ClientCertAlreadyGot",
        services.KEY_ALREADY_FETCHED,
    )
    # The console's download now says the same.
    console = signed_in_client.get(device_url(after, "device_private_key"), follow=True)
    assert_message(console, services.KEY_ALREADY_FETCHED)


def test_a_key_downloaded_on_the_console_is_no_longer_handed_out(api, platform_product, signed_in_client):
    device = make_device(platform_product)
    assert signed_in_client.get(device_url(device, "device_private_key")).status_code == 200

    assert_refused(
        lambda: client_key(api, platform_product, "dev_01"),
        "UnsupportedOperation.ClientCertAlreadyGot",
        services.KEY_ALREADY_FETCHED,
    )


def test_a_key_device_has_no_client_key(api, key_product):
    make_device(key_product)

    assert_refused(
        lambda: client_key(api, key_product, "dev_01"),
        "UnsupportedOperation.WrongProductAuthType",
        services.NO_GENERATED_KEY,
    )


def test_client_key_of_a_missing_device_is_device_not_exist(api, platform_product):
    assert_refused(
        lambda: client_key(api, platform_product, "ghost"),
        "ResourceNotFound.DeviceNotExist",
        selectors.DEVICE_NOT_FOUND.format(name="ghost"),
    )


# UpdateDeviceAvailableState -------------------------------------------------------------


def test_update_device_available_state_disables_and_enables(api, key_product, signed_in_client):
    device = make_device(key_product)
    make_device(key_product, "dev_02")

    available_state(api, key_product, "dev_01", 0)

    assert not stored(device).enabled
    assert Device.objects.get(product=key_product, name="dev_02").enabled
    page = signed_in_client.get(f"/products/{key_product.product_id}/devices/").content.decode()
    assert "Disabled" in page

    available_state(api, key_product, "dev_01", 1)
    assert stored(device).enabled


def test_available_state_must_be_zero_or_one(api, key_product):
    device = make_device(key_product)

    assert_refused(
        lambda: available_state(api, key_product, "dev_01", 2),
        "InvalidParameterValue",
        "The parameter EnableState must be one of 0, 1, not 2.",
    )
    assert stored(device).enabled


def test_available_state_of_a_missing_device_is_device_not_exist(api, key_product):
    assert_refused(
        lambda: available_state(api, key_product, "ghost", 0),
        "ResourceNotFound.DeviceNotExist",
        selectors.DEVICE_NOT_FOUND.format(name="ghost"),
    )


# Another account ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda api, product: update_psk(api, product, "dev_01", NEW_PSK),
        lambda api, product: client_key(api, product, "dev_01"),
        lambda api, product: available_state(api, product, "dev_01", 0),
    ],
    ids=["UpdateDevicePSK", "DescribeDeviceClientKey", "UpdateDeviceAvailableState"],
)
def test_another_accounts_device_is_product_not_exist(live_server, other_user, user, call):
    product = services.create_product(
        owner=user, name="mine", auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=None
    )
    device = make_device(product)
    before = (device.psk, device.private_key_pem, device.enabled)
    mallory = client_for(live_server, other_user)

    assert_refused(
        lambda: call(mallory, product),
        "ResourceNotFound.ProductNotExist",
        selectors.PRODUCT_NOT_FOUND.format(product_id=product.product_id),
    )
    after = stored(device)
    assert (after.psk, after.private_key_pem, after.enabled) == before
    assert not after.private_key_fetched
