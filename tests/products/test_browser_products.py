"""Products and devices in a real browser: create a product, add a device by its
certificate, download the bundle (Debian's chromium through Playwright)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from playwright.sync_api import Page, expect

from products.models import Device, Product
from tests import pki
from tests.browser_fixtures import *  # noqa: F403  (fixtures: browser_type_launch_args, base_url)
from tests.browser_fixtures import console_url, sign_in, write_file
from tests.certificate_console import register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"  # the conftest `user` fixture's password


def create_product(page: Page, live_server, name: str, ca_choice: str) -> Product:
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Products", exact=True).click()
    page.get_by_role("link", name="Create Product", exact=True).first.click()
    expect(page.get_by_label("Region", exact=True)).to_have_value("gz")
    expect(page.get_by_label("Product Type", exact=True)).to_have_value("0")
    page.get_by_label("Product Name", exact=True).fill(name)
    page.get_by_label("Certificate", exact=True).check()
    page.get_by_label("CA Certificate", exact=True).select_option(label=ca_choice)
    page.get_by_label("JSON", exact=True).check()
    page.get_by_label("Description", exact=True).fill("Made in a browser test")
    page.get_by_role("button", name="Save", exact=True).click()
    product = Product.objects.get(name=name)
    expect(page).to_have_url(console_url(live_server, product.get_absolute_url()))
    expect(page.get_by_text(product.product_id).first).to_be_visible()
    return product


@pytest.fixture
def live_page(page: Page, live_server, user) -> Page:
    sign_in(page, live_server, user.username, PASSWORD)
    return page


def test_create_product_add_device_by_certificate_and_download_bundle(
    live_page: Page, live_server, user, tmp_path
):
    page = live_page
    ca = pki.make_ca("Browser Product CA", key=pki.ec_key())
    register(user, ca, "browser_ca")

    product = create_product(page, live_server, "browser_meters", "browser_ca")
    assert product.ca_certificate.name == "browser_ca"
    assert product.auth_method == Product.AuthMethod.CERTIFICATE

    page.get_by_role("link", name="Devices", exact=True).click()
    page.get_by_role("link", name="Add Device", exact=True).first.click()
    leaf = pki.make_leaf(
        f"{product.product_id}meter_01", ca, key=pki.ec_key(), extended_key_usage=pki.CLIENT_AUTH
    )
    page.get_by_label("Device Name", exact=True).fill("meter_01")
    page.get_by_label("Device Certificate", exact=True).set_input_files(
        write_file(tmp_path, "meter_01.crt", leaf.pem)
    )
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.get_by_role("alert")).to_contain_text('Device "meter_01" was added.')
    device = Device.objects.get(product=product, name="meter_01")
    assert device.certificate_pem.encode() == leaf.pem

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download Device Bundle", exact=True).click()
    download = download_info.value
    assert download.suggested_filename == f"{product.product_id}_meter_01.zip"
    archive = zipfile.ZipFile(io.BytesIO(download.path().read_bytes()))
    assert sorted(archive.namelist()) == sorted(
        ["meter_01_cert.crt", "device-ca.crt", "root-ca.crt", "device_info.json", "README.txt"]
    )
    assert archive.read("meter_01_cert.crt") == leaf.pem
    assert archive.read("device-ca.crt") == ca.pem
    info = json.loads(archive.read("device_info.json"))
    assert (info["productId"], info["deviceName"], info["auth_mode"]) == (
        product.product_id,
        "meter_01",
        "CERT",
    )


def test_bad_device_certificate_shows_its_error_beside_the_field(
    live_page: Page, live_server, user, tmp_path
):
    page = live_page
    ca = pki.make_ca("Browser Product CA", key=pki.ec_key())
    register(user, ca, "browser_ca")
    product = create_product(page, live_server, "browser_lamps", "browser_ca")
    page.goto(console_url(live_server, f"/products/{product.product_id}/devices/add/"))

    wrong = pki.make_leaf(f"{product.product_id}someone_else", ca, key=pki.ec_key())
    page.get_by_label("Device Name", exact=True).fill("lamp_01")
    page.get_by_label("Device Certificate", exact=True).set_input_files(
        write_file(tmp_path, "lamp.crt", wrong.pem)
    )
    page.get_by_role("button", name="Save", exact=True).click()

    feedback = page.locator(".invalid-feedback").first
    expect(feedback).to_be_visible()
    expect(feedback).to_contain_text(f'must be exactly "{product.product_id}lamp_01"')
    assert not Device.objects.filter(product=product).exists()


def test_platform_ca_device_key_downloads_once(live_page: Page, live_server, user):
    page = live_page
    product = create_product(page, live_server, "browser_platform", "Platform CA")
    assert product.ca_certificate is None
    page.goto(console_url(live_server, f"/products/{product.product_id}/devices/add/"))
    page.get_by_label("Device Name", exact=True).fill("gen_01")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text('Device "gen_01" was added.')

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download Device Private Key", exact=True).click()
    assert b"PRIVATE KEY" in download_info.value.path().read_bytes()

    page.reload()
    expect(page.get_by_text("Already fetched").first).to_be_visible()
    expect(page.get_by_role("link", name="Download Device Private Key", exact=True)).to_have_count(0)
    assert Device.objects.get(product=product, name="gen_01").private_key_fetched
