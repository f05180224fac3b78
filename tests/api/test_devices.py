"""The device actions: create (custom CA, Platform CA, Key), describe, list, delete, enable/disable."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.utils.html import escape

from certificates import x509
from products import platform, selectors, services, validators
from products.models import Device, Product
from tests import pki
from tests.api_support import (
    assert_refused,
    build,
    call,
    client_for,
    in_a_new_second,
    links,
    refusal,
    register_ca,
    visible_text,
)
from tests.tencent_sdk import models

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server, user):
    return client_for(live_server, user)


@pytest.fixture
def device_ca() -> pki.Issued:
    return pki.make_ca("Device CA")


@pytest.fixture
def custom_product(user, device_ca) -> Product:
    ca = register_ca(user, device_ca, "device_ca")
    return services.create_product(
        owner=user, name="custom", auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=ca
    )


@pytest.fixture
def platform_product(user) -> Product:
    return services.create_product(
        owner=user, name="platform", auth_method=Product.AuthMethod.CERTIFICATE, ca_certificate=None
    )


@pytest.fixture
def key_product(user) -> Product:
    return services.create_product(
        owner=user, name="keyed", auth_method=Product.AuthMethod.KEY, ca_certificate=None
    )


def create_device(api, product: Product, name: str, **fields):
    return api.CreateDevice(
        build(models.CreateDeviceRequest, ProductId=product.product_id, DeviceName=name, **fields)
    )


def describe_device(api, product: Product, name: str):
    return api.DescribeDevice(
        build(models.DescribeDeviceRequest, ProductId=product.product_id, DeviceName=name)
    )


def describe_devices(api, product: Product, offset: int = 0, limit: int = 10, **filters):
    return api.DescribeDevices(
        build(
            models.DescribeDevicesRequest, ProductId=product.product_id, Offset=offset, Limit=limit, **filters
        )
    )


def device_leaf(product: Product, name: str, issuer: pki.Issued, **kwargs) -> pki.Issued:
    kwargs.setdefault("extended_key_usage", pki.CLIENT_AUTH)
    return pki.make_leaf(f"{product.product_id}{name}", issuer, **kwargs)


def make_key_devices(product: Product, names: list[str]) -> list[Device]:
    return [
        services.create_device(product=product, name=name, credentials=services.DeviceCredentials())
        for name in names
    ]


def public_key_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# Custom-CA products: TlsCrt -------------------------------------------------------------


def test_create_device_with_a_certificate_from_the_products_ca(api, custom_product, device_ca):
    leaf = device_leaf(custom_product, "dev_01", device_ca)

    response = create_device(api, custom_product, "dev_01", TlsCrt=leaf.pem.decode())

    assert response.DeviceName == "dev_01"
    assert response.DeviceCert == leaf.pem.decode()
    assert (response.DevicePsk, response.DevicePrivateKey) == ("", "")
    stored = Device.objects.get(product=custom_product, name="dev_01")
    assert stored.key_origin == Device.KeyOrigin.UPLOADED_CERTIFICATE
    assert stored.certificate_fingerprint == leaf.certificate.fingerprint(SHA256()).hex()
    assert stored.certificate_serial_hex == x509.serial_hex(leaf.certificate.serial_number)
    assert stored.private_key_pem == ""


def test_create_device_with_tags_keeps_them(api, custom_product, device_ca):
    leaf = device_leaf(custom_product, "dev_01", device_ca)
    tag = build(models.DeviceTag, Tag="room", Type=2, Value="kitchen", Name="Room")

    create_device(
        api, custom_product, "dev_01", TlsCrt=leaf.pem.decode(), Attribute=build(models.Attribute, Tags=[tag])
    )

    assert Device.objects.get(product=custom_product).tags == [
        {"Tag": "room", "Type": 2, "Value": "kitchen", "Name": "Room"}
    ]
    assert describe_device(api, custom_product, "dev_01").Tags[0].Value == "kitchen"


def test_certificate_with_the_wrong_common_name_is_refused_with_the_console_message(
    api, custom_product, device_ca
):
    leaf = pki.make_leaf("someone_else", device_ca, extended_key_usage=pki.CLIENT_AUTH)

    assert_refused(
        lambda: create_device(api, custom_product, "dev_01", TlsCrt=leaf.pem.decode()),
        "InvalidParameterValue.CACertNotMatch",
        services.WRONG_COMMON_NAME.format(
            expected=f"{custom_product.product_id}dev_01", actual="someone_else"
        ),
    )
    assert not Device.objects.exists()


def test_certificate_from_another_ca_is_refused(api, custom_product):
    stranger = pki.make_ca("Device CA", key=pki.ec_key())
    leaf = device_leaf(custom_product, "dev_01", stranger)

    assert_refused(
        lambda: create_device(api, custom_product, "dev_01", TlsCrt=leaf.pem.decode()),
        "InvalidParameterValue.CACertNotMatch",
        x509.SIGNATURE_MISMATCH.format(role="device certificate"),
    )
    assert not Device.objects.exists()


def test_custom_ca_product_needs_a_certificate(api, custom_product):
    assert_refused(
        lambda: create_device(api, custom_product, "dev_01"),
        "InvalidParameterValue",
        services.CERTIFICATE_REQUIRED.format(ca="device_ca"),
    )
    assert not Device.objects.exists()


def test_psk_on_a_certificate_product_is_product_not_support_psk(api, custom_product):
    assert_refused(
        lambda: create_device(api, custom_product, "dev_01", DefinedPsk=base64.b64encode(b"secret").decode()),
        "UnauthorizedOperation.ProductNotSupportPSK",
        services.PSK_ON_CERT_PRODUCT,
    )
    assert not Device.objects.exists()


# Platform CA products: the console issues key and certificate ----------------------------


def test_create_device_on_a_platform_ca_product_returns_its_certificate_and_key(api, platform_product):
    response = create_device(api, platform_product, "dev_01")

    certificate = cx509.load_pem_x509_certificate(response.DeviceCert.encode())
    private_key = serialization.load_pem_private_key(response.DevicePrivateKey.encode(), password=None)
    assert public_key_der(private_key.public_key()) == public_key_der(certificate.public_key())
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == f"{platform_product.product_id}dev_01"
    issuer = cx509.load_pem_x509_certificate(platform.device_ca().certificate_pem.encode())
    certificate.verify_directly_issued_by(issuer)
    usage = certificate.extensions.get_extension_for_class(cx509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    assert response.DevicePsk == ""
    # The key was handed out in the response: the console keeps no copy.
    stored = Device.objects.get(product=platform_product, name="dev_01")
    assert stored.key_origin == Device.KeyOrigin.GENERATED
    assert stored.private_key_fetched is True
    assert stored.private_key_pem == ""
    assert stored.certificate_pem == response.DeviceCert


def test_after_the_api_hands_out_the_key_the_device_shows_it_fetched(api, signed_in_client, platform_product):
    create_device(api, platform_product, "dev_01")

    described = describe_device(api, platform_product, "dev_01")
    page = signed_in_client.get(f"/products/{platform_product.product_id}/device/dev_01/")
    download = signed_in_client.get(
        f"/products/{platform_product.product_id}/device/dev_01/private-key/", follow=True
    )

    assert described.CertState == 1
    assert page.status_code == 200
    text = visible_text(page.content.decode())
    assert "Private key Already fetched" in text
    assert "Download Device Private Key (already fetched)" in text
    assert f"/products/{platform_product.product_id}/device/dev_01/private-key/" not in dict(
        links(page.content.decode())
    )
    assert [str(message) for message in download.context["messages"]] == [services.KEY_ALREADY_FETCHED]


def test_a_key_not_yet_downloaded_is_cert_state_0(api, platform_product):
    services.create_device(product=platform_product, name="dev_01", credentials=services.DeviceCredentials())

    assert describe_device(api, platform_product, "dev_01").CertState == 0


def test_certificate_upload_on_a_platform_ca_product_is_wrong_product_auth_type(
    api, platform_product, device_ca
):
    leaf = device_leaf(platform_product, "dev_01", device_ca)

    assert_refused(
        lambda: create_device(api, platform_product, "dev_01", TlsCrt=leaf.pem.decode()),
        "UnsupportedOperation.WrongProductAuthType",
        services.CERTIFICATE_ON_PLATFORM_PRODUCT,
    )
    assert not Device.objects.exists()


# Key products -----------------------------------------------------------------------


def test_create_device_on_a_key_product_returns_a_random_base64_psk(api, key_product):
    response = create_device(api, key_product, "dev_01")

    assert len(base64.b64decode(response.DevicePsk, validate=True)) == services.PSK_BYTES
    assert (response.DeviceCert, response.DevicePrivateKey) == ("", "")
    stored = Device.objects.get(product=key_product, name="dev_01")
    assert stored.key_origin == Device.KeyOrigin.PSK
    assert stored.psk == response.DevicePsk
    assert describe_device(api, key_product, "dev_01").DevicePsk == response.DevicePsk


def test_create_device_with_a_defined_psk_keeps_it(api, key_product):
    psk = base64.b64encode(b"sixteen byte key").decode()

    response = create_device(api, key_product, "dev_01", DefinedPsk=psk)

    assert response.DevicePsk == psk
    assert Device.objects.get(product=key_product, name="dev_01").psk == psk


def test_defined_psk_not_base64_is_refused_as_the_console_refuses_it(api, signed_in_client, key_product):
    error = refusal(lambda: create_device(api, key_product, "dev_01", DefinedPsk="not base64!"))
    console = signed_in_client.post(
        f"/products/{key_product.product_id}/devices/add/", {"name": "dev_01", "psk": "not base64!"}
    )

    assert (error.code, error.message) == (
        "InvalidParameterValue.DefinedPskNotBase64",
        validators.PSK_NOT_BASE64,
    )
    assert console.status_code == 200
    assert console.context["form"].errors["psk"] == [validators.PSK_NOT_BASE64]
    assert escape(validators.PSK_NOT_BASE64) in console.content.decode()
    assert not Device.objects.exists()


def test_certificate_on_a_key_product_is_wrong_product_auth_type(api, key_product, device_ca):
    leaf = device_leaf(key_product, "dev_01", device_ca)

    assert_refused(
        lambda: create_device(api, key_product, "dev_01", TlsCrt=leaf.pem.decode()),
        "UnsupportedOperation.WrongProductAuthType",
        services.CERTIFICATE_ON_KEY_PRODUCT,
    )
    assert not Device.objects.exists()


# Names and unknowns ---------------------------------------------------------------------


def test_a_taken_device_name_is_device_already_exist(api, key_product):
    first = create_device(api, key_product, "dev_01")
    in_a_new_second()

    assert_refused(
        lambda: create_device(api, key_product, "dev_01"),
        "InvalidParameterValue.DeviceAlreadyExist",
        services.DEVICE_NAME_TAKEN.format(name="dev_01"),
    )
    assert list(Device.objects.values_list("psk", flat=True)) == [first.DevicePsk]


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 49])
def test_an_invalid_device_name_is_invalid_parameter_value(api, key_product, name):
    assert_refused(
        lambda: create_device(api, key_product, name), "InvalidParameterValue", validators.INVALID_DEVICE_NAME
    )
    assert not Device.objects.exists()


def test_create_device_in_an_unknown_product_is_product_not_exist(api):
    error = refusal(lambda: call(api, "CreateDevice", {"ProductId": "NOSUCHPROD", "DeviceName": "dev_01"}))

    assert (error.code, error.message) == (
        "ResourceNotFound.ProductNotExist",
        selectors.PRODUCT_NOT_FOUND.format(product_id="NOSUCHPROD"),
    )


# Describing -------------------------------------------------------------------------


def test_describe_device(api, custom_product, device_ca):
    leaf = device_leaf(custom_product, "dev_01", device_ca)
    create_device(api, custom_product, "dev_01", TlsCrt=leaf.pem.decode())
    stored = Device.objects.get(product=custom_product, name="dev_01")

    response = describe_device(api, custom_product, "dev_01")

    assert response.DeviceName == "dev_01"
    assert response.Online == 3  # not activated: it never connected
    assert response.LoginTime == 0
    assert response.DeviceCert == leaf.pem.decode()
    assert response.DevicePsk == ""
    assert response.CreateTime == int(stored.created.timestamp())
    assert response.CertState == 1  # no generated key is waiting to be fetched
    assert response.EnableState == 1


def test_describe_unknown_device_is_device_not_exist(api, key_product):
    assert_refused(
        lambda: describe_device(api, key_product, "ghost"),
        "ResourceNotFound.DeviceNotExist",
        selectors.DEVICE_NOT_FOUND.format(name="ghost"),
    )


def test_describe_devices_pages_oldest_first_with_the_total(api, key_product):
    names = [f"dev_{index:02}" for index in range(12)]
    make_key_devices(key_product, names)

    first = describe_devices(api, key_product, 0, 10)
    second = describe_devices(api, key_product, 10, 10)

    assert (first.TotalCount, second.TotalCount) == (12, 12)
    assert [d.DeviceName for d in first.Devices] == names[:10]
    assert [d.DeviceName for d in second.Devices] == names[10:]
    assert all(d.EnableState == 1 and d.Online == 3 for d in first.Devices)
    assert [d.DeviceName for d in describe_devices(api, key_product, 3, 250).Devices] == names[3:]


@pytest.mark.parametrize("limit", [9, 251])
def test_describe_devices_refuses_limits_outside_10_to_250(api, key_product, limit):
    assert_refused(
        lambda: describe_devices(api, key_product, 0, limit),
        "InvalidParameterValue",
        f"The parameter Limit must be between 10 and 250, not {limit}.",
    )


def test_describe_devices_filters_by_device_name(api, key_product):
    make_key_devices(key_product, ["kitchen_1", "kitchen_2", "garage_1"])

    response = describe_devices(api, key_product, DeviceName="kitchen")

    assert response.TotalCount == 2
    assert [d.DeviceName for d in response.Devices] == ["kitchen_1", "kitchen_2"]
    assert describe_devices(api, key_product, DeviceName="cellar").TotalCount == 0


def test_describe_devices_filters_by_enable_state(api, key_product):
    make_key_devices(key_product, ["a", "b", "c"])
    services.set_devices_enabled(product=key_product, names=["b"], enabled=False)

    disabled = describe_devices(api, key_product, EnableState=0)
    enabled = describe_devices(api, key_product, EnableState=1)

    assert [(d.DeviceName, d.EnableState) for d in disabled.Devices] == [("b", 0)]
    assert [d.DeviceName for d in enabled.Devices] == ["a", "c"]
    assert disabled.TotalCount == 1 and enabled.TotalCount == 2


# Deleting ---------------------------------------------------------------------------


def test_delete_device(api, key_product):
    make_key_devices(key_product, ["dev_01", "dev_02"])

    api.DeleteDevice(build(models.DeleteDeviceRequest, ProductId=key_product.product_id, DeviceName="dev_01"))

    assert list(Device.objects.values_list("name", flat=True)) == ["dev_02"]


def test_delete_unknown_device_is_device_not_exist(api, key_product):
    make_key_devices(key_product, ["dev_01"])

    assert_refused(
        lambda: api.DeleteDevice(
            build(models.DeleteDeviceRequest, ProductId=key_product.product_id, DeviceName="ghost")
        ),
        "ResourceNotFound.DeviceNotExist",
        selectors.DEVICE_NOT_FOUND.format(name="ghost"),
    )
    assert Device.objects.count() == 1


# Enabling and disabling -----------------------------------------------------------------


def set_enable_state(api, product: Product, names: list[str], status: int) -> None:
    api.UpdateDevicesEnableState(
        build(
            models.UpdateDevicesEnableStateRequest,
            ProductId=product.product_id,
            DeviceNames=names,
            Status=status,
        )
    )


def enabled_flags(product: Product) -> dict[str, bool]:
    return dict(Device.objects.filter(product=product).values_list("name", "enabled"))


def test_update_devices_enable_state_disables_and_enables_the_devices_named(api, key_product):
    make_key_devices(key_product, ["a", "b", "c"])

    set_enable_state(api, key_product, ["a", "b"], 0)
    assert enabled_flags(key_product) == {"a": False, "b": False, "c": True}
    assert describe_device(api, key_product, "a").EnableState == 0

    set_enable_state(api, key_product, ["b"], 1)
    assert enabled_flags(key_product) == {"a": False, "b": True, "c": True}


def test_update_devices_enable_state_with_an_unknown_name_changes_nothing(api, key_product):
    make_key_devices(key_product, ["a", "b"])

    assert_refused(
        lambda: set_enable_state(api, key_product, ["a", "ghost"], 0),
        "ResourceNotFound.DeviceNotExist",
        selectors.DEVICE_NOT_FOUND.format(name="ghost"),
    )
    assert enabled_flags(key_product) == {"a": True, "b": True}


def test_update_devices_enable_state_needs_a_device_name(api, key_product):
    make_key_devices(key_product, ["a"])

    assert_refused(
        lambda: set_enable_state(api, key_product, [], 0),
        "MissingParameter",
        "The parameter DeviceNames must name at least one device.",
    )
    assert enabled_flags(key_product) == {"a": True}


def test_update_devices_enable_state_status_must_be_0_or_1(api, key_product):
    make_key_devices(key_product, ["a"])

    assert_refused(
        lambda: set_enable_state(api, key_product, ["a"], 2),
        "InvalidParameterValue",
        "The parameter Status must be one of 0, 1, not 2.",
    )
    assert enabled_flags(key_product) == {"a": True}
