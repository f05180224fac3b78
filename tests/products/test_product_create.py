"""Create Product: the form's fields as the console page names them, its rules, and the Product ID."""

from __future__ import annotations

import re

import pytest
from django.utils.html import escape

from products import services, validators
from products.models import PLATFORM_CA_NAME, Product
from tests import pki
from tests.product_console import (
    CREATE_URL,
    assert_field_error,
    custom_ca,
    make_product,
    product_form,
    register_ca,
    text,
)

pytestmark = pytest.mark.django_db


def field_label(page: str, field: str) -> str:
    """The text of the <label> (or, for radio groups, the <legend>) of form field `field`."""
    label = re.search(rf'<label for="id_{field}" class="form-label[^"]*"> (.*?)(?:<span| </label>)', page)
    if label:
        return label.group(1).strip()
    legend = re.search(
        rf'<div id="div_id_{field}" class="mb-3"> <fieldset[^>]*> <legend [^>]*> (.*?)<span', page
    )
    assert legend, f"no label for {field}"
    return legend.group(1).strip()


def options(page: str, field: str) -> list[tuple[str, str]]:
    """(value, text) of every choice of a select or radio field, in page order."""
    select = re.search(rf'<select name="{field}".*?</select>', page)
    if select:
        return [
            (value, label.strip())
            for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(0))
        ]
    return [
        (value, label.strip())
        for value, label in re.findall(
            rf'name="{field}" value="([^"]*)".*?<label [^>]*> ([^<]*?) </label>', page
        )
    ]


def selected(page: str, field: str) -> str:
    select = re.search(rf'<select name="{field}".*?</select>', page)
    if select:
        return re.search(r'<option value="([^"]*)" selected>', select.group(0)).group(1)
    return re.search(rf'name="{field}" value="([^"]*)" id="[^"]*" required checked>', page).group(1)


def test_form_fields_are_labelled_as_on_the_console_page(signed_in_client):
    response = signed_in_client.get(CREATE_URL)

    assert response.status_code == 200
    page = text(response)
    assert field_label(page, "region") == "Region"
    assert field_label(page, "product_type") == "Product Type"
    assert field_label(page, "name") == "Product Name"
    assert field_label(page, "auth_method") == "Authentication Method"
    assert field_label(page, "ca_certificate") == "CA Certificate"
    assert field_label(page, "data_format") == "Data Format"
    assert field_label(page, "description") == "Description"
    assert '<button type="submit" class="btn btn-primary">Save</button>' in page


def test_form_defaults_to_guangzhou_general_certificate_json(signed_in_client):
    page = text(signed_in_client.get(CREATE_URL))

    assert options(page, "region") == [("gz", "Guangzhou")]
    assert selected(page, "region") == "gz"
    assert ("0", "General") in options(page, "product_type")
    assert selected(page, "product_type") == "0"
    assert options(page, "auth_method") == [("certificate", "Certificate"), ("key", "Key")]
    assert selected(page, "auth_method") == "certificate"
    assert options(page, "data_format") == [("json", "JSON"), ("custom", "Custom")]
    assert selected(page, "data_format") == "json"


def test_ca_choices_are_the_accounts_cas_by_name_and_platform_ca(signed_in_client, user, other_user):
    register_ca(user, custom_ca(), "zeta_ca")
    register_ca(user, pki.make_ca("Second CA", key=pki.ec_key()), "alpha_ca")
    register_ca(other_user, pki.make_ca("Mallory CA", key=pki.ec_key()), "mallory_secret_ca")

    page = text(signed_in_client.get(CREATE_URL))

    assert options(page, "ca_certificate") == [
        ("", "Select a CA certificate"),
        ("alpha_ca", "alpha_ca"),
        ("zeta_ca", "zeta_ca"),
        (PLATFORM_CA_NAME, "Platform CA"),
    ]
    assert "mallory_secret_ca" not in page


def test_creates_product_bound_to_the_chosen_ca(signed_in_client, user):
    ca = register_ca(user, custom_ca(), "device_root_ca")

    response = signed_in_client.post(
        CREATE_URL,
        product_form(
            name="smart-lock@v2", ca_certificate="device_root_ca", data_format="custom", description="Locks"
        ),
        follow=True,
    )

    product = Product.objects.get(owner=user)
    assert response.redirect_chain == [(f"/products/{product.product_id}/", 302)]
    assert (product.name, product.auth_method, product.ca_certificate, product.data_format) == (
        "smart-lock@v2",
        "certificate",
        ca,
        "custom",
    )
    assert (product.region, product.product_type, product.description) == ("gz", 0, "Locks")
    assert re.fullmatch(r"[A-Z0-9]{10}", product.product_id)
    page = text(response)
    assert escape(f'Product "smart-lock@v2" was created with Product ID {product.product_id}.') in page
    assert (
        f'<dt>Product ID</dt><dd><span class="copy-value"><code class="font-monospace">{product.product_id}</code>'
        in page
    )
    assert '<dt>CA Certificate</dt><dd><a href="/certificates/' in page


def test_creates_platform_ca_and_key_products(signed_in_client, user):
    signed_in_client.post(CREATE_URL, product_form(name="platform", device_key_algorithm="rsa-2048"))
    signed_in_client.post(CREATE_URL, product_form(name="keyed", auth_method="key", ca_certificate=""))

    platform = Product.objects.get(owner=user, name="platform")
    keyed = Product.objects.get(owner=user, name="keyed")
    assert platform.uses_platform_ca and platform.device_key_algorithm == "rsa-2048"
    assert keyed.auth_method == "key" and keyed.ca_certificate is None
    assert platform.product_id != keyed.product_id
    assert all(re.fullmatch(r"[A-Z0-9]{10}", p.product_id) for p in (platform, keyed))


@pytest.mark.parametrize(
    "name",
    ["a" * 41, "two words", "slash/name", "température", ""],
    ids=["41-chars", "space", "slash", "non-ascii", "empty"],
)
def test_refuses_invalid_product_names(signed_in_client, user, name):
    response = signed_in_client.post(CREATE_URL, product_form(name=name))

    message = validators.INVALID_PRODUCT_NAME if name else "This field is required."
    assert_field_error(response, "name", message)
    assert not Product.objects.exists()


def test_accepts_a_name_of_40_characters(signed_in_client, user):
    response = signed_in_client.post(CREATE_URL, product_form(name="A_-@" * 10))

    assert response.status_code == 302
    assert Product.objects.get(owner=user).name == "A_-@" * 10


def test_refuses_a_name_the_account_already_uses(signed_in_client, user):
    make_product(user, "thermometers")

    response = signed_in_client.post(CREATE_URL, product_form(name="thermometers"))

    assert_field_error(response, "name", services.PRODUCT_NAME_TAKEN.format(name="thermometers"))
    assert Product.objects.filter(owner=user).count() == 1


def test_another_accounts_product_name_is_free(signed_in_client, user, other_user):
    make_product(other_user, "thermometers")

    response = signed_in_client.post(CREATE_URL, product_form(name="thermometers"))

    assert response.status_code == 302
    assert Product.objects.filter(name="thermometers").count() == 2


def test_certificate_method_needs_a_ca_choice(signed_in_client, user):
    register_ca(user, custom_ca(), "device_root_ca")

    response = signed_in_client.post(CREATE_URL, product_form(ca_certificate=""))

    assert_field_error(response, "ca_certificate", services.CA_REQUIRED)
    assert not Product.objects.exists()


def test_another_accounts_ca_cannot_be_chosen(signed_in_client, user, other_user):
    register_ca(other_user, custom_ca(), "mallory_ca")

    response = signed_in_client.post(CREATE_URL, product_form(ca_certificate="mallory_ca"))

    assert_field_error(
        response, "ca_certificate", "Select a valid choice. mallory_ca is not one of the available choices."
    )
    assert not Product.objects.exists()


def test_refuses_a_description_of_501_characters(signed_in_client, user):
    response = signed_in_client.post(CREATE_URL, product_form(description="d" * 501))

    assert_field_error(response, "description", validators.DESCRIPTION_TOO_LONG)
    assert not Product.objects.exists()


def test_accepts_a_description_of_500_characters(signed_in_client, user):
    response = signed_in_client.post(CREATE_URL, product_form(description="d" * 500))

    assert response.status_code == 302
    assert Product.objects.get(owner=user).description == "d" * 500


def test_refuses_a_product_beyond_the_account_limit(signed_in_client, user, other_user, settings):
    settings.IOTHUB_PRODUCT_LIMIT = 2
    make_product(user, "first")
    make_product(user, "second")
    make_product(other_user, "not_counted")

    response = signed_in_client.post(CREATE_URL, product_form(name="third"))

    assert_field_error(response, None, services.PRODUCT_LIMIT_REACHED.format(limit=2))
    assert sorted(Product.objects.filter(owner=user).values_list("name", flat=True)) == ["first", "second"]


def test_ca_named_like_a_platform_choice_is_never_mistaken_for_it(signed_in_client, user):
    """Only a value no CA name can take means Platform CA."""
    from tests.product_console import register_ca

    register_ca(user, pki.make_ca("Lookalike CA", key=pki.ec_key()), name="__platform__")
    response = signed_in_client.post(
        "/products/create/",
        {
            "region": "gz",
            "product_type": "0",
            "name": "lookalike",
            "auth_method": "certificate",
            "ca_certificate": "__platform__",
            "device_key_algorithm": "ec-p256",
            "data_format": "json",
            "description": "",
        },
    )
    assert response.status_code == 302
    product = Product.objects.get(name="lookalike")
    assert product.ca_certificate is not None
    assert product.ca_certificate.name == "__platform__"
