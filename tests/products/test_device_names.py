"""Device names: 1–48 of letters, digits, `_`, `-` and `:`, unique within their product."""

from __future__ import annotations

import pytest

from products import services, validators
from products.models import Device, Product
from tests.product_console import add_url, assert_field_error, make_device, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(user):
    # A Key product: the name rules are the same for every method, and no certificate is needed.
    return make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)


@pytest.mark.parametrize(
    "name",
    ["d" * 49, "dev 01", "dev/01", "capteur_é", "dev@01", "dev.01", "dev_01\n"],
    ids=["49-chars", "space", "slash", "non-ascii", "at-sign", "dot", "newline"],
)
def test_refuses_invalid_device_names(signed_in_client, product, name):
    response = signed_in_client.post(add_url(product), {"name": name})

    assert_field_error(response, "name", validators.INVALID_DEVICE_NAME)
    assert not Device.objects.exists()


@pytest.mark.parametrize(
    "name",
    ["d" * 49, "dev 01", "dev/01", "capteur_é", ""],
    ids=["49-chars", "space", "slash", "non-ascii", "empty"],
)
def test_service_refuses_the_same_names(product, name):
    with pytest.raises(services.ServiceError) as refused:
        make_device(product, name)

    assert refused.value.message == validators.INVALID_DEVICE_NAME
    assert refused.value.field == "name"
    assert not Device.objects.exists()


@pytest.mark.parametrize("name", ["d" * 48, "aa:bb:cc:dd:ee:ff", "Sensor-1_B"])
def test_accepts_valid_device_names(signed_in_client, product, name):
    response = signed_in_client.post(add_url(product), {"name": name}, follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"/products/{product.product_id}/device/{name}/"
    assert Device.objects.get(product=product).name == name
    assert response.context["device"].name == name


def test_refuses_a_name_taken_in_the_product(signed_in_client, product):
    make_device(product, "dev_01")

    response = signed_in_client.post(add_url(product), {"name": "dev_01"})

    assert_field_error(response, "name", services.DEVICE_NAME_TAKEN.format(name="dev_01"))
    assert Device.objects.filter(product=product).count() == 1


def test_the_same_name_is_free_in_another_product(signed_in_client, user, product):
    make_device(product, "dev_01")
    other = make_product(user, "other-sensors", auth_method=Product.AuthMethod.KEY)

    response = signed_in_client.post(add_url(other), {"name": "dev_01"})

    assert response.status_code == 302
    assert Device.objects.filter(name="dev_01").count() == 2


def test_names_differing_only_in_case_are_two_devices(signed_in_client, product):
    make_device(product, "dev_01")

    response = signed_in_client.post(add_url(product), {"name": "DEV_01"})

    assert response.status_code == 302
    assert sorted(Device.objects.values_list("name", flat=True)) == ["DEV_01", "dev_01"]
