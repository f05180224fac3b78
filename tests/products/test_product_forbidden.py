"""A forbidden product takes no new devices until it is enabled again."""

from __future__ import annotations

import pytest

from products import services
from products.models import Device, Product
from tests.product_console import add_url, assert_field_error, assert_message, make_device, make_product, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(user):
    return make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)


def forbid(client, product: Product, forbidden: str):
    return client.post(f"/products/{product.product_id}/forbid/", {"forbidden": forbidden}, follow=True)


def test_forbid_marks_the_product(signed_in_client, product):
    response = forbid(signed_in_client, product, "1")

    assert response.redirect_chain == [(f"/products/{product.product_id}/", 302)]
    assert_message(response, 'Product "sensors" is now forbidden.', level="success")
    assert Product.objects.get(pk=product.pk).forbidden is True
    assert '<span class="badge text-bg-danger fs-6">Forbidden</span>' in text(response)


def test_forbidden_product_refuses_new_devices(signed_in_client, product):
    make_device(product, "dev_01")
    forbid(signed_in_client, product, "1")

    response = signed_in_client.post(add_url(product), {"name": "dev_02"})

    assert_field_error(response, None, services.PRODUCT_IS_FORBIDDEN.format(name="sensors"))
    assert list(Device.objects.values_list("name", flat=True)) == ["dev_01"]


def test_forbidden_certificate_product_refuses_new_devices_before_issuing(signed_in_client, user):
    product = make_product(user, "thermometers")
    forbid(signed_in_client, product, "1")

    response = signed_in_client.post(add_url(product), {"name": "dev_01", "certificate_source": "generate"})

    assert_field_error(response, None, services.PRODUCT_IS_FORBIDDEN.format(name="thermometers"))
    assert not Device.objects.exists()


def test_enabled_again_it_takes_devices(signed_in_client, product):
    forbid(signed_in_client, product, "1")

    response = forbid(signed_in_client, product, "0")

    assert_message(response, 'Product "sensors" is now enabled.', level="success")
    assert Product.objects.get(pk=product.pk).forbidden is False
    assert signed_in_client.post(add_url(product), {"name": "dev_02"}).status_code == 302
    assert Device.objects.filter(product=product, name="dev_02").exists()


def test_forbid_needs_a_post(signed_in_client, product):
    response = signed_in_client.get(f"/products/{product.product_id}/forbid/", {"forbidden": "1"})

    assert response.status_code == 405
    assert Product.objects.get(pk=product.pk).forbidden is False
