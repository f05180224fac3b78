"""Control characters (NUL above all) in product and device text, URLs and searches.

Each is refused with a message or answered 404, never a 500: PostgreSQL cannot store or
even compare NUL in text (`./scripts/with-postgres` runs this file on PostgreSQL too).
"""

from __future__ import annotations

import pytest

from iothub_console.validators import CONTROL_CHARACTERS_REFUSED
from products import validators
from products.models import Device, Product
from tests.product_console import (
    CREATE_URL,
    LIST_URL,
    add_url,
    assert_field_error,
    assert_message,
    devices_url,
    make_device,
    make_product,
    product_form,
)

pytestmark = pytest.mark.django_db

CONTROL = [pytest.param("\x00", id="NUL"), pytest.param("\x1b", id="ESC"), pytest.param("\x9f", id="C1")]


@pytest.fixture
def product(user) -> Product:
    return make_product(user, auth_method=Product.AuthMethod.KEY)


@pytest.mark.parametrize("bad", CONTROL)
def test_a_product_name_with_a_control_character_is_refused(signed_in_client, bad):
    response = signed_in_client.post(CREATE_URL, product_form(name=f"thermo{bad}meters"))

    assert_field_error(response, "name", validators.INVALID_PRODUCT_NAME)
    assert not Product.objects.exists()


@pytest.mark.parametrize("bad", CONTROL)
def test_a_description_with_a_control_character_is_refused(signed_in_client, bad):
    response = signed_in_client.post(CREATE_URL, product_form(description=f"north{bad}wing"))

    assert_field_error(response, "description", CONTROL_CHARACTERS_REFUSED)
    assert not Product.objects.exists()


def test_a_description_keeps_its_line_breaks_and_tabs(signed_in_client, user):
    response = signed_in_client.post(CREATE_URL, product_form(description="north wing\r\n\tfloor 2"))

    product = Product.objects.get(owner=user)
    assert response.status_code == 302
    assert product.description == "north wing\r\n\tfloor 2"


@pytest.mark.parametrize("bad", CONTROL)
def test_a_device_name_with_a_control_character_is_refused(signed_in_client, product, bad):
    response = signed_in_client.post(add_url(product), {"name": f"dev{bad}01", "psk": ""})

    assert_field_error(response, "name", validators.INVALID_DEVICE_NAME)
    assert not Device.objects.exists()


@pytest.mark.parametrize("bad", ["%00", "%1B", "%C2%9F"])
def test_product_and_device_urls_with_control_characters_are_404(signed_in_client, product, bad):
    make_device(product)
    product_id = product.product_id

    for url in [
        f"/products/a{bad}b/",
        f"/products/a{bad}b/devices/",
        f"/products/{product_id}{bad}/",
        f"/products/{product_id}/device/dev_01{bad}/",
        f"/products/{product_id}/device/dev{bad}01/bundle/",
        f"/products/{product_id}/device/dev{bad}01/certificate/",
    ]:
        assert signed_in_client.get(url).status_code == 404, url
    assert signed_in_client.post(f"/products/{product_id}/device/dev{bad}01/delete/").status_code == 404
    assert Device.objects.get().name == "dev_01"


@pytest.mark.parametrize("bad", ["%00", "%07", "%7F"])
def test_a_product_search_with_control_characters_says_so_and_lists_every_product(
    signed_in_client, product, bad
):
    response = signed_in_client.get(f"{LIST_URL}?q=therm{bad}o")

    assert response.status_code == 200
    assert_message(response, CONTROL_CHARACTERS_REFUSED)
    assert [row.name for row in response.context["page"]] == [product.name]
    assert response.context["query"] == ""


@pytest.mark.parametrize("bad", ["%00", "%07", "%7F"])
def test_a_device_search_with_control_characters_says_so_and_lists_every_device(
    signed_in_client, product, bad
):
    make_device(product)

    response = signed_in_client.get(f"{devices_url(product)}?q=dev{bad}&after=dev{bad}")

    assert response.status_code == 200
    assert_message(response, CONTROL_CHARACTERS_REFUSED)
    assert [row["name"] for row in response.context["rows"]] == ["dev_01"]


def test_a_search_page_key_with_nul_means_the_first_page(signed_in_client, product):
    make_device(product)

    response = signed_in_client.get(f"{devices_url(product)}?q=dev&after=dev%00&before=%00")

    assert response.status_code == 200
    assert [row["name"] for row in response.context["rows"]] == ["dev_01"]
