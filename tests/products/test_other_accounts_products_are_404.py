"""Another account's products and devices are a 404 at every URL, and nothing about them changes."""

from __future__ import annotations

import pytest
from django.test import Client

from products.models import Device, Product
from tests.product_console import make_device, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def mallorys(other_user):
    """Mallory's Platform CA product with a device whose key was never fetched."""
    product = make_product(other_user, "mallory-things")
    device = make_device(product, "dev_01")
    return product, device


def urls(product: Product, device: Device) -> dict[str, list[str]]:
    base = f"/products/{product.product_id}/"
    device_base = f"{base}device/{device.name}/"
    return {
        "get": [
            base,
            f"{base}devices/",
            f"{base}devices/add/",
            f"{base}ca.crt",
            device_base,
            f"{device_base}certificate/",
            f"{device_base}private-key/",
            f"{device_base}bundle/",
        ],
        "post": [
            f"{base}delete/",
            f"{base}forbid/",
            f"{base}devices/add/",
            f"{device_base}enable/",
            f"{device_base}delete/",
        ],
    }


def snapshot(product: Product, device: Device) -> tuple:
    product = Product.objects.get(pk=product.pk)
    device = Device.objects.get(pk=device.pk)
    return (
        product.name,
        product.forbidden,
        device.enabled,
        device.private_key_fetched,
        device.private_key_pem,
        Device.objects.filter(product=product).count(),
    )


def test_every_url_is_a_404_and_changes_nothing(signed_in_client, mallorys):
    product, device = mallorys
    before = snapshot(product, device)

    for url in urls(product, device)["get"]:
        response = signed_in_client.get(url)
        assert response.status_code == 404, url
    posts = {"forbidden": "1", "enabled": "0", "name": "dev_02", "certificate_source": "generate"}
    for url in urls(product, device)["post"]:
        assert signed_in_client.post(url, posts).status_code == 404, url

    assert snapshot(product, device) == before
    assert Product.objects.filter(pk=product.pk).exists()


def test_responses_hold_none_of_the_other_accounts_secrets(signed_in_client, mallorys):
    product, device = mallorys
    stored = Device.objects.get(pk=device.pk)

    for url in urls(product, device)["get"]:
        content = signed_in_client.get(url).content.decode()
        assert "PRIVATE KEY" not in content, url
        assert stored.certificate_fingerprint not in content, url


def test_the_owner_can_still_fetch_the_key(signed_in_client, other_user, mallorys):
    product, device = mallorys
    signed_in_client.get(f"/products/{product.product_id}/device/dev_01/private-key/")
    signed_in_client.get(f"/products/{product.product_id}/device/dev_01/bundle/")
    owner = Client()
    owner.force_login(other_user)

    response = owner.get(f"/products/{product.product_id}/device/dev_01/private-key/")

    assert response.status_code == 200
    assert b"-----BEGIN PRIVATE KEY-----" in response.content
    assert Device.objects.get(pk=device.pk).private_key_fetched


def test_the_product_is_not_listed_or_found_by_search(signed_in_client, mallorys):
    product, _ = mallorys

    by_id = signed_in_client.get("/products/", {"q": product.product_id})
    by_name = signed_in_client.get("/products/", {"q": "mallory"})

    for response in (by_id, by_name):
        assert response.status_code == 200
        assert list(response.context["page"].object_list) == []
        assert f"/products/{product.product_id}/" not in response.content.decode()


def test_the_same_names_in_two_accounts_stay_apart(signed_in_client, user, mallorys):
    _, mallory_device = mallorys
    mine = make_product(user, "mallory-things")
    make_device(mine, "dev_01")

    response = signed_in_client.post(f"/products/{mine.product_id}/device/dev_01/enable/", {"enabled": "0"})

    assert response.status_code == 302
    assert Device.objects.get(product=mine, name="dev_01").enabled is False
    assert Device.objects.get(pk=mallory_device.pk).enabled is True
