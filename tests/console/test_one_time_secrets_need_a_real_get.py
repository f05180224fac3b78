"""A HEAD or a prefetch of a one-time secret leaves it for the real download."""

from __future__ import annotations

import io
import zipfile

import pytest
from cryptography.hazmat.primitives import serialization

from iothub_console.http import is_consuming_get
from products.models import Device
from tests.product_console import device_url, make_device, make_product

pytestmark = pytest.mark.django_db

# Each header a browser sends when it fetches ahead of the user.
SPECULATIVE_HEADERS = [
    {"Sec-Purpose": "prefetch"},
    {"Sec-Purpose": "prefetch;prerender"},
    {"Purpose": "prefetch"},
    {"X-Moz": "prefetch"},
]


@pytest.fixture
def device(user):
    return make_device(make_product(user, "thermometers"), "dev_01")


def assert_key_untouched(device: Device) -> None:
    stored = Device.objects.get(pk=device.pk)
    assert not stored.private_key_fetched
    assert "PRIVATE KEY" in stored.private_key_pem


def assert_real_get_gets_the_key(client, device: Device) -> None:
    response = client.get(device_url(device, "device_private_key"))
    assert response.status_code == 200
    serialization.load_pem_private_key(response.content, password=None)
    stored = Device.objects.get(pk=device.pk)
    assert stored.private_key_fetched and stored.private_key_pem == ""


@pytest.mark.parametrize("action", ["device_private_key", "device_bundle"])
def test_head_leaves_the_key(signed_in_client, device, action):
    response = signed_in_client.head(device_url(device, action))

    assert response.status_code == 200
    assert response.content == b""
    assert response["Cache-Control"] == "no-store"
    assert_key_untouched(device)
    assert_real_get_gets_the_key(signed_in_client, device)


@pytest.mark.parametrize("headers", SPECULATIVE_HEADERS)
@pytest.mark.parametrize("action", ["device_private_key", "device_bundle"])
def test_prefetch_leaves_the_key(signed_in_client, device, action, headers):
    response = signed_in_client.get(device_url(device, action), headers=headers)

    # Not a 2xx: the browser drops the prefetch and asks again when the user clicks.
    assert response.status_code == 503
    assert b"PRIVATE KEY" not in response.content
    assert response["Cache-Control"] == "no-store"
    assert_key_untouched(device)
    assert_real_get_gets_the_key(signed_in_client, device)


def test_bundle_after_a_prefetch_still_holds_the_key(signed_in_client, device):
    signed_in_client.get(device_url(device, "device_bundle"), headers={"Sec-Purpose": "prefetch"})

    response = signed_in_client.get(device_url(device, "device_bundle"))

    assert response.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    serialization.load_pem_private_key(bundle.read("dev_01_private.key"), password=None)
    assert Device.objects.get(pk=device.pk).private_key_fetched


def test_bundle_without_a_secret_is_served_to_a_prefetch(signed_in_client, device):
    signed_in_client.get(device_url(device, "device_private_key"))

    response = signed_in_client.get(device_url(device, "device_bundle"), headers={"Purpose": "prefetch"})

    assert response.status_code == 200
    assert "dev_01_private.key" not in zipfile.ZipFile(io.BytesIO(response.content)).namelist()


@pytest.mark.parametrize("action", ["device_private_key", "device_bundle"])
def test_post_to_a_download_is_refused_and_leaves_the_key(signed_in_client, device, action):
    response = signed_in_client.post(device_url(device, action))

    assert response.status_code == 405
    assert_key_untouched(device)


def test_only_a_plain_get_consumes(rf):
    assert is_consuming_get(rf.get("/"))
    assert not is_consuming_get(rf.head("/"))
    assert not is_consuming_get(rf.post("/"))
    assert not is_consuming_get(rf.get("/", headers={"Sec-Purpose": "prefetch"}))
    assert not is_consuming_get(rf.get("/", headers={"X-Purpose": "preview"}))
