"""The device page's downloads: certificate, the private key (once), and the device bundle."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization

from products import bundles, platform, services
from products.models import Device, Product
from tests import pki
from tests.product_console import (
    assert_message,
    custom_ca,
    device_leaf,
    device_url,
    make_device,
    make_product,
    register_ca,
    text,
)

pytestmark = pytest.mark.django_db

CERT_BUNDLE_FILES = {
    "dev_01_cert.crt",
    "dev_01_private.key",
    "device-ca.crt",
    "root-ca.crt",
    "device_info.json",
    "README.txt",
}


@pytest.fixture
def product(user):
    return make_product(user, "thermometers")


@pytest.fixture
def device(product):
    return make_device(product, "dev_01")


def attachment_name(response) -> str:
    match = re.fullmatch(r'attachment; filename="([^"]+)"', response["Content-Disposition"])
    assert match, response["Content-Disposition"]
    return match.group(1)


def open_bundle(response) -> zipfile.ZipFile:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "no-store"
    return zipfile.ZipFile(io.BytesIO(response.content))


def username_pattern(product: Product, device_name: str) -> str:
    return rf"{product.product_id}{device_name};12010126;[A-Za-z0-9]{{5}};\d+"


def test_device_page_offers_the_three_downloads(signed_in_client, device):
    page = text(signed_in_client.get(device_url(device)))

    assert (
        f'href="{device_url(device, "device_certificate")}"><i class="bi bi-file-earmark-lock" aria-hidden="true"></i> Download Device Certificate</a>'
        in page
    )
    assert (
        f'href="{device_url(device, "device_private_key")}"><i class="bi bi-key" aria-hidden="true"></i> Download Device Private Key</a>'
        in page
    )
    assert (
        f'href="{device_url(device, "device_bundle")}"><i class="bi bi-file-earmark-zip" aria-hidden="true"></i> Download Device Bundle</a>'
        in page
    )
    assert "Not yet fetched" in page


def test_download_device_certificate(signed_in_client, device):
    response = signed_in_client.get(device_url(device, "device_certificate"))

    assert response.status_code == 200
    assert attachment_name(response) == "dev_01_cert.crt"
    assert response.content.decode() == Device.objects.get(pk=device.pk).certificate_pem
    assert not Device.objects.get(pk=device.pk).private_key_fetched


def test_private_key_downloads_exactly_once(signed_in_client, device):
    certificate = cx509.load_pem_x509_certificate(device.certificate_pem.encode())

    first = signed_in_client.get(device_url(device, "device_private_key"))

    assert first.status_code == 200
    assert attachment_name(first) == "dev_01_private.key"
    assert first["Cache-Control"] == "no-store"
    key = serialization.load_pem_private_key(first.content, password=None)
    assert key.public_key() == certificate.public_key()
    stored = Device.objects.get(pk=device.pk)
    assert stored.private_key_fetched and stored.private_key_pem == ""

    page = text(signed_in_client.get(device_url(device)))
    assert "Already fetched" in page
    assert "Download Device Private Key (already fetched)" in page
    assert f'href="{device_url(device, "device_private_key")}"' not in page

    second = signed_in_client.get(device_url(device, "device_private_key"), follow=True)

    assert second.redirect_chain == [(device_url(device), 302)]
    assert_message(second, services.KEY_ALREADY_FETCHED)
    assert "PRIVATE KEY" not in second.content.decode()


def test_no_private_key_for_a_csr_device(signed_in_client, product):
    csr = pki.make_csr(f"{product.product_id}dev_01", key=pki.ec_key())
    device = make_device(product, "dev_01", csr_data=csr.public_bytes(serialization.Encoding.PEM))

    response = signed_in_client.get(device_url(device, "device_private_key"), follow=True)

    assert response.redirect_chain == [(device_url(device), 302)]
    assert_message(response, services.NO_GENERATED_KEY)
    assert "Download Device Private Key" not in text(response)


def test_bundle_holds_certificate_key_cas_and_device_info(signed_in_client, product, device, settings):
    settings.IOTHUB_MQTT_HOST = "mqtt.example.test"
    settings.IOTHUB_MQTT_PORT = 8884

    response = signed_in_client.get(device_url(device, "device_bundle"))

    assert attachment_name(response) == f"{product.product_id}_dev_01.zip"
    bundle = open_bundle(response)
    assert set(bundle.namelist()) == CERT_BUNDLE_FILES
    stored = Device.objects.get(pk=device.pk)
    certificate_pem = bundle.read("dev_01_cert.crt").decode()
    assert certificate_pem == stored.certificate_pem
    certificate = cx509.load_pem_x509_certificate(certificate_pem.encode())
    key = serialization.load_pem_private_key(bundle.read("dev_01_private.key"), password=None)
    assert key.public_key() == certificate.public_key()
    device_ca = cx509.load_pem_x509_certificate(bundle.read("device-ca.crt"))
    certificate.verify_directly_issued_by(device_ca)
    root_ca = cx509.load_pem_x509_certificate(bundle.read("root-ca.crt"))
    assert bundle.read("root-ca.crt").decode() == platform.root_ca().certificate_pem
    device_ca.verify_directly_issued_by(root_ca)

    info = json.loads(bundle.read("device_info.json"))
    mqtt = info.pop("mqtt")
    assert info == {
        "auth_mode": "CERT",
        "productId": product.product_id,
        "productSecret": "",
        "deviceName": "dev_01",
        "region": "china",
        "key_deviceinfo": {"deviceSecret": ""},
        "cert_deviceinfo": {
            "devCaFile": "root-ca.crt",
            "devCertFile": "dev_01_cert.crt",
            "devPrivateKeyFile": "dev_01_private.key",
        },
    }
    username = mqtt.pop("username")
    assert re.fullmatch(username_pattern(product, "dev_01"), username)
    assert mqtt == {
        "host": "mqtt.example.test",
        "port": 8884,
        "client_id": f"{product.product_id}dev_01",
        "topic_prefix": f"{product.product_id}/dev_01/",
    }

    readme = bundle.read("README.txt").decode()
    (publish,) = [line for line in readme.splitlines() if line.startswith("mosquitto_pub ")]
    assert "-h mqtt.example.test -p 8884" in publish
    assert "--cafile root-ca.crt --cert dev_01_cert.crt --key dev_01_private.key" in publish
    assert f"-i '{product.product_id}dev_01' -u '{username}'" in publish
    assert f"-t '{product.product_id}/dev_01/data'" in publish

    # The bundle was the key's one download.
    assert stored.private_key_fetched and stored.private_key_pem == ""


def test_second_bundle_has_no_key(signed_in_client, device):
    open_bundle(signed_in_client.get(device_url(device, "device_bundle")))

    second = open_bundle(signed_in_client.get(device_url(device, "device_bundle")))

    assert set(second.namelist()) == CERT_BUNDLE_FILES - {"dev_01_private.key"}
    assert "PRIVATE KEY" not in "".join(second.read(name).decode() for name in second.namelist())
    assert "not included" in second.read("README.txt").decode()
    key_page = signed_in_client.get(device_url(device, "device_private_key"), follow=True)
    assert_message(key_page, services.KEY_ALREADY_FETCHED)


def test_bundle_after_the_key_download_has_no_key(signed_in_client, device):
    signed_in_client.get(device_url(device, "device_private_key"))

    bundle = open_bundle(signed_in_client.get(device_url(device, "device_bundle")))

    assert "dev_01_private.key" not in bundle.namelist()


def test_custom_ca_bundle_chains_to_the_products_ca(signed_in_client, user):
    ca = custom_ca()
    product = make_product(user, "door-locks", ca_certificate=register_ca(user, ca, "device_root_ca"))
    leaf = device_leaf(product, "dev_01", ca)
    device = make_device(product, "dev_01", certificate_data=leaf.pem)

    bundle = open_bundle(signed_in_client.get(device_url(device, "device_bundle")))

    assert set(bundle.namelist()) == CERT_BUNDLE_FILES - {"dev_01_private.key"}
    assert bundle.read("dev_01_cert.crt") == leaf.pem
    assert bundle.read("device-ca.crt") == ca.pem
    leaf.certificate.verify_directly_issued_by(cx509.load_pem_x509_certificate(bundle.read("device-ca.crt")))
    assert (
        json.loads(bundle.read("device_info.json"))["cert_deviceinfo"]["devPrivateKeyFile"]
        == "dev_01_private.key"
    )


def test_key_product_bundle_has_root_ca_device_info_and_readme(signed_in_client, user, settings):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    device = make_device(product, "dev_01", psk="c2l4dGVlbiBieXRlIGtleQ==")

    response = signed_in_client.get(device_url(device, "device_bundle"))

    assert attachment_name(response) == f"{product.product_id}_dev_01.zip"
    bundle = open_bundle(response)
    assert sorted(bundle.namelist()) == ["README.txt", "device_info.json", "root-ca.crt"]
    assert bundle.read("root-ca.crt").decode() == platform.root_ca().certificate_pem
    info = json.loads(bundle.read("device_info.json"))
    assert info["auth_mode"] == "KEY"
    assert info["productId"] == product.product_id
    assert info["deviceName"] == "dev_01"
    assert info["key_deviceinfo"] == {"deviceSecret": "c2l4dGVlbiBieXRlIGtleQ=="}
    assert info["cert_deviceinfo"] == {"devCaFile": "", "devCertFile": "", "devPrivateKeyFile": ""}
    assert info["mqtt"]["port"] == settings.IOTHUB_MQTT_KEY_PORT
    assert re.fullmatch(username_pattern(product, "dev_01"), info["mqtt"]["username"])
    # The bundled password is good for about a year.
    expiry = int(info["mqtt"]["username"].rsplit(";", 1)[1])
    assert abs(expiry - (time.time() + bundles.BUNDLE_CREDENTIALS_SECONDS)) < 300
    assert info["mqtt"]["password"] == bundles.mqtt_password(info["mqtt"]["username"], device.psk)


def test_key_device_has_no_certificate_to_download(signed_in_client, user):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    device = make_device(product, "dev_01")

    response = signed_in_client.get(device_url(device, "device_certificate"), follow=True)

    assert response.redirect_chain == [(device_url(device), 302)]
    assert_message(response, "This device authenticates with a key; it has no certificate.")


def test_product_ca_download_is_the_ca_devices_chain_to(signed_in_client, product, device):
    response = signed_in_client.get(f"/products/{product.product_id}/ca.crt")

    assert response.status_code == 200
    assert attachment_name(response) == f"{product.product_id}_device-ca.crt"
    certificate = cx509.load_pem_x509_certificate(device.certificate_pem.encode())
    certificate.verify_directly_issued_by(cx509.load_pem_x509_certificate(response.content))


def test_bundle_from_a_stale_device_whose_key_was_just_taken_has_no_key(device):
    # Two downloads at once: this request read the device before the other took the key.
    stale = Device.objects.select_related("product").get(pk=device.pk)
    services.take_private_key(device=Device.objects.get(pk=device.pk))
    assert stale.private_key_retrievable

    filename, data = services.device_bundle(device=stale)

    assert filename == f"{device.product.product_id}_dev_01.zip"
    assert "dev_01_private.key" not in zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert Device.objects.get(pk=device.pk).private_key_fetched
