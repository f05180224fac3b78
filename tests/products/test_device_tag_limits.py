"""Device tags are bounded: at most 100 per device, 128 characters per text, at every door."""

from __future__ import annotations

import pytest

from products import services
from products.models import Device, Product
from tests.api_support import assert_refused, call, client_for
from tests.product_console import make_product

pytestmark = pytest.mark.django_db


def tags(count: int, value: str = "kitchen") -> list[dict]:
    return [{"Tag": f"tag{number}", "Type": 2, "Value": value, "Name": "Room"} for number in range(count)]


@pytest.fixture
def key_product(user) -> Product:
    return make_product(user, "lamps", auth_method=Product.AuthMethod.KEY)


def create(product: Product, device_tags: list[dict]) -> Device:
    return services.create_device(
        product=product, name="dev_01", credentials=services.DeviceCredentials(), tags=device_tags
    )


def test_a_hundred_tags_of_128_characters_are_kept(key_product):
    device = create(key_product, tags(100, "v" * 128))

    assert Device.objects.get(pk=device.pk).tags == tags(100, "v" * 128)


def test_a_101st_tag_is_refused_and_nothing_is_stored(key_product):
    with pytest.raises(services.ServiceError) as refused:
        create(key_product, tags(101))

    assert (refused.value.code, refused.value.message) == ("InvalidParameterValue", services.TOO_MANY_TAGS)
    assert not Device.objects.filter(product=key_product).exists()


@pytest.mark.parametrize("field", ["Tag", "Value", "Name"])
def test_a_tag_text_over_128_characters_is_refused(key_product, field):
    device_tags = tags(1)
    device_tags[0][field] = "x" * 129

    with pytest.raises(services.ServiceError) as refused:
        create(key_product, device_tags)

    assert refused.value.message == services.TAG_TEXT_TOO_LONG
    assert not Device.objects.filter(product=key_product).exists()


def test_the_api_refuses_too_many_tags_with_the_same_message(live_server, user, key_product):
    client = client_for(live_server, user)
    params = {"ProductId": key_product.product_id, "DeviceName": "dev_01", "Attribute": {"Tags": tags(101)}}

    assert_refused(
        lambda: call(client, "CreateDevice", params), "InvalidParameterValue", services.TOO_MANY_TAGS
    )
    assert not Device.objects.filter(product=key_product).exists()


def test_the_api_refuses_a_megabyte_tag(live_server, user, key_product):
    client = client_for(live_server, user)
    params = {
        "ProductId": key_product.product_id,
        "DeviceName": "dev_01",
        "Attribute": {"Tags": tags(1, "x" * 1_000_000)},
    }

    assert_refused(
        lambda: call(client, "CreateDevice", params), "InvalidParameterValue", services.TAG_TEXT_TOO_LONG
    )
    assert not Device.objects.filter(product=key_product).exists()
