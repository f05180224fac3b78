"""Create Product in a real browser: Device Key Type shows only for the Platform CA.

The page's script learns which CA choice is the Platform CA from the form's
data-platform-ca attribute (products.models.PLATFORM_CA_NAME), not from a copy of it.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from products.models import PLATFORM_CA_NAME, Product
from tests import pki
from tests.browser_fixtures import *  # noqa: F403  (fixtures: browser_type_launch_args, base_url)
from tests.browser_fixtures import console_url, sign_in
from tests.certificate_console import register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"  # the conftest `user` fixture's password


def test_device_key_type_shows_for_the_platform_ca_only(page: Page, live_server, user):
    register(user, pki.make_ca("Own Product CA", key=pki.ec_key()), "own_ca")
    sign_in(page, live_server, user.username, PASSWORD)
    page.goto(console_url(live_server, "/products/create/"))
    key_type = page.get_by_label("Device Key Type", exact=True)
    ca_choice = page.get_by_label("CA Certificate", exact=True)

    page.get_by_label("Certificate", exact=True).check()
    ca_choice.select_option(label=PLATFORM_CA_NAME)
    expect(key_type).to_be_visible()
    ca_choice.select_option(label="own_ca")
    expect(key_type).to_be_hidden()
    ca_choice.select_option(label=PLATFORM_CA_NAME)
    page.get_by_label("Key", exact=True).check()
    expect(key_type).to_be_hidden()
    expect(ca_choice).to_be_hidden()

    page.get_by_label("Certificate", exact=True).check()
    key_type.select_option(label="RSA 2048")
    page.get_by_label("Product Name", exact=True).fill("rsa_meters")
    page.get_by_role("button", name="Save", exact=True).click()

    product = Product.objects.get(name="rsa_meters")
    expect(page).to_have_url(console_url(live_server, product.get_absolute_url()))
    assert product.ca_certificate is None
    assert product.device_key_algorithm == Product.KeyAlgorithm.RSA_2048
