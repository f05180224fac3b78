"""Delete a product: refused while it has devices; its CA cannot be deleted while it is bound."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from certificates import services as ca_services
from certificates.models import CACertificate
from products import services
from products.models import Device, Product
from tests.product_console import (
    LIST_URL,
    assert_message,
    custom_ca,
    make_device,
    make_product,
    register_ca,
    text,
)

pytestmark = pytest.mark.django_db


def delete_url(product: Product) -> str:
    return f"/products/{product.product_id}/delete/"


def test_delete_refused_while_the_product_has_devices(signed_in_client, user):
    product = make_product(user, "thermometers")
    make_device(product, "dev_01")
    make_device(product, "dev_02")

    response = signed_in_client.post(delete_url(product), follow=True)

    assert response.redirect_chain == [(f"/products/{product.product_id}/", 302)]
    assert response.status_code == 200
    assert_message(response, services.PRODUCT_HAS_DEVICES.format(name="thermometers", count=2))
    assert Product.objects.filter(pk=product.pk).exists()
    assert Device.objects.filter(product=product).count() == 2


def test_delete_removes_an_empty_product(signed_in_client, user):
    product = make_product(user, "thermometers")
    keep = make_product(user, "keep-me")

    response = signed_in_client.post(delete_url(product), follow=True)

    assert response.redirect_chain == [(LIST_URL, 302)]
    assert_message(response, 'Product "thermometers" was deleted.', level="success")
    assert list(Product.objects.filter(owner=user)) == [keep]


def test_delete_allowed_once_the_devices_are_gone(signed_in_client, user):
    product = make_product(user, "thermometers")
    device = make_device(product, "dev_01")
    signed_in_client.post(f"/products/{product.product_id}/device/dev_01/delete/")
    assert not Device.objects.filter(pk=device.pk).exists()

    response = signed_in_client.post(delete_url(product))

    assert response.status_code == 302
    assert not Product.objects.filter(pk=product.pk).exists()


def test_delete_needs_a_post(signed_in_client, user):
    product = make_product(user, "thermometers")

    response = signed_in_client.get(delete_url(product))

    assert response.status_code == 405
    assert Product.objects.filter(pk=product.pk).exists()


def test_bound_ca_cannot_be_deleted_and_its_page_lists_the_product(signed_in_client, user):
    ca = register_ca(user, custom_ca(), "device_root_ca")
    product = make_product(user, "door-locks", ca_certificate=ca)

    response = signed_in_client.post(f"/certificates/{ca.pk}/delete/", follow=True)

    assert response.redirect_chain == [(f"/certificates/{ca.pk}/", 302)]
    assert_message(response, ca_services.CA_STILL_BOUND.format(name="device_root_ca", products="door-locks"))
    assert CACertificate.objects.filter(pk=ca.pk).exists()
    page = text(response)
    bound = page.split('aria-label="Bound products"', 1)[1].split("</table>", 1)[0]
    assert f'<a href="/products/{product.product_id}/">door-locks</a>' in bound
    assert product.product_id in bound


def test_ca_can_be_deleted_once_its_product_is_gone(signed_in_client, user):
    ca = register_ca(user, custom_ca(), "device_root_ca")
    product = make_product(user, "door-locks", ca_certificate=ca)
    signed_in_client.post(delete_url(product))

    response = signed_in_client.post(f"/certificates/{ca.pk}/delete/", follow=True)

    assert response.status_code == 200
    assert escape('CA certificate "device_root_ca" was deleted.') in response.content.decode()
    assert not CACertificate.objects.filter(pk=ca.pk).exists()
