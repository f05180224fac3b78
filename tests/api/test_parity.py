"""One service layer, two doors: what the API makes, the console shows, and the other way round."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from certificates import services as ca_services
from certificates.models import CACertificate
from products.models import Device, Product
from tests import pki
from tests.api_support import (
    build,
    client_for,
    create_private_ca,
    create_product,
    in_a_new_second,
    links,
    table_row,
    visible_text,
)
from tests.tencent_sdk import models

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server, user):
    return client_for(live_server, user)


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


# API → console ----------------------------------------------------------------------


def test_a_ca_created_through_the_api_is_on_the_certificate_pages(api, signed_in_client, user):
    create_private_ca(api, "api_ca", pki.make_ca("API Made CA"))
    stored = CACertificate.objects.get(owner=user, name="api_ca")

    listing = page(signed_in_client, "/certificates/")
    detail = page(signed_in_client, f"/certificates/{stored.pk}/")

    assert (f"/certificates/{stored.pk}/", "api_ca") in links(listing)
    assert "API Made CA" in table_row(listing, "api_ca")
    assert "CN=API Made CA,O=IoT Hub Console Tests,C=CN" in visible_text(detail)
    assert stored.serial_hex in visible_text(detail)


def test_a_product_and_device_created_through_the_api_are_on_the_product_pages(api, signed_in_client):
    product_id = create_product(api, "api_product", EncryptionType="2").ProductId
    api.CreateDevice(build(models.CreateDeviceRequest, ProductId=product_id, DeviceName="api_device"))

    listing = page(signed_in_client, "/products/")
    detail = page(signed_in_client, f"/products/{product_id}/")
    devices = page(signed_in_client, f"/products/{product_id}/devices/")
    device = page(signed_in_client, f"/products/{product_id}/device/api_device/")

    assert (f"/products/{product_id}/", "api_product") in links(listing)
    assert product_id in visible_text(detail)
    assert (f"/products/{product_id}/device/api_device/", "api_device") in links(devices)
    assert "api_device" in visible_text(device)


def test_api_changes_show_in_the_console(api, signed_in_client):
    product_id = create_product(api, "api_product", EncryptionType="2").ProductId
    api.CreateDevice(build(models.CreateDeviceRequest, ProductId=product_id, DeviceName="api_device"))

    api.SetProductsForbiddenStatus(
        build(models.SetProductsForbiddenStatusRequest, ProductId=[product_id], Status=1)
    )
    api.UpdateDevicesEnableState(
        build(
            models.UpdateDevicesEnableStateRequest, ProductId=product_id, DeviceNames=["api_device"], Status=0
        )
    )

    assert "Forbidden" in table_row(page(signed_in_client, "/products/"), "api_product Forbidden")[0]
    devices = page(signed_in_client, f"/products/{product_id}/devices/")
    assert "Disabled" in table_row(devices, "api_device")[1]

    in_a_new_second()  # DeleteDevice has CreateDevice's body
    api.DeleteDevice(build(models.DeleteDeviceRequest, ProductId=product_id, DeviceName="api_device"))
    assert signed_in_client.get(f"/products/{product_id}/device/api_device/").status_code == 404
    api.DeleteProduct(build(models.DeleteProductRequest, ProductId=product_id))
    assert signed_in_client.get(f"/products/{product_id}/").status_code == 404


# Console → API ----------------------------------------------------------------------


def test_a_ca_added_in_the_console_is_described_by_the_api(api, signed_in_client, user):
    ca = pki.make_ca("Console CA")
    code = ca_services.current_authentication_code(owner=user).code
    response = signed_in_client.post(
        "/certificates/add/",
        {
            "name": "console_ca",
            "ca_certificate": SimpleUploadedFile("ca.crt", ca.pem),
            "verification_certificate": SimpleUploadedFile(
                "verificationCert.crt", pki.make_verification(code, ca).pem
            ),
        },
    )
    assert response.status_code == 302

    cas = api.DescribePrivateCAs(models.DescribePrivateCAsRequest()).CAs

    assert [(c.CertName, c.Subject, c.CertText) for c in cas] == [
        ("console_ca", "CN=Console CA,O=IoT Hub Console Tests,C=CN", ca.pem.decode())
    ]


def test_a_product_and_device_made_in_the_console_are_returned_by_the_api(api, signed_in_client, user):
    response = signed_in_client.post(
        "/products/create/",
        {
            "region": "gz",
            "product_type": "0",
            "name": "console_product",
            "auth_method": "key",
            "ca_certificate": "",
            "device_key_algorithm": "ec-p256",
            "data_format": "json",
            "description": "made by hand",
        },
    )
    assert response.status_code == 302
    product = Product.objects.get(owner=user, name="console_product")
    response = signed_in_client.post(
        f"/products/{product.product_id}/devices/add/", {"name": "console_device", "psk": "c2VjcmV0LXBzaw=="}
    )
    assert response.status_code == 302

    products = api.DescribeProducts(build(models.DescribeProductsRequest, Offset=0, Limit=10)).Products
    devices = api.DescribeDevices(
        build(models.DescribeDevicesRequest, ProductId=product.product_id, Offset=0, Limit=10)
    ).Devices

    assert [(p.ProductId, p.ProductName) for p in products] == [(product.product_id, "console_product")]
    assert products[0].ProductProperties.EncryptionType == "2"
    assert products[0].ProductProperties.ProductDescription == "made by hand"
    assert [(d.DeviceName, d.DevicePsk, d.EnableState) for d in devices] == [
        ("console_device", "c2VjcmV0LXBzaw==", 1)
    ]


def test_console_changes_show_in_the_api(api, signed_in_client):
    product_id = create_product(api, "api_product", EncryptionType="2").ProductId
    api.CreateDevice(build(models.CreateDeviceRequest, ProductId=product_id, DeviceName="dev_01"))

    signed_in_client.post(f"/products/{product_id}/forbid/", {"forbidden": "1"})
    signed_in_client.post(f"/products/{product_id}/device/dev_01/enable/", {"enabled": "0"})

    described = api.DescribeProduct(build(models.DescribeProductRequest, ProductId=product_id))
    device = api.DescribeDevice(
        build(models.DescribeDeviceRequest, ProductId=product_id, DeviceName="dev_01")
    )
    assert described.ProductProperties.ForbiddenStatus == 1
    assert device.EnableState == 0

    signed_in_client.post(f"/products/{product_id}/device/dev_01/delete/")
    assert not Device.objects.exists()
    devices = api.DescribeDevices(
        build(models.DescribeDevicesRequest, ProductId=product_id, Offset=0, Limit=10)
    )
    assert devices.TotalCount == 0
