"""Certificate Management in a real browser: Debian's chromium through Playwright."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from certificates import x509
from certificates.models import AuthenticationCode, CACertificate
from tests import pki
from tests.browser_fixtures import *  # noqa: F403  (fixtures: browser_type_launch_args)
from tests.browser_fixtures import console_url, expect_console_sidebar, sign_in, write_file
from tests.certificate_console import register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"  # the conftest `user` fixture's password


def open_add_certificate(page: Page) -> str:
    """From any console page: sidebar, Add Certificate; returns the code shown."""
    page.get_by_role("navigation", name="Console").get_by_role(
        "link", name="Certificate Management", exact=True
    ).click()
    expect(page.get_by_role("heading", name="Certificate Management", level=1, exact=True)).to_be_visible()
    # The empty state repeats the button; the toolbar's comes first.
    page.get_by_role("link", name="Add Certificate", exact=True).first.click()
    expect(page.get_by_role("heading", name="Add Certificate", level=1, exact=True)).to_be_visible()
    code_input = page.get_by_label("Authentication Code", exact=True)
    expect(code_input).to_have_attribute("readonly", "")
    code = code_input.input_value()
    assert len(code) == 64 and all(c in "0123456789abcdef" for c in code)
    return code


def test_add_certificate_registers_the_ca_and_lists_it(page: Page, live_server, user, tmp_path):
    sign_in(page, live_server, user.username, PASSWORD)
    code = open_add_certificate(page)
    ca = pki.make_ca("Browser Test Root CA")
    verification = pki.make_verification(code, ca)
    ca_file = write_file(tmp_path, "ca.crt", ca.pem)
    verification_file = write_file(tmp_path, "verificationCert.crt", verification.pem)

    page.get_by_label("CA Certificate Name", exact=True).fill("browser_root-ca@1")
    page.get_by_label("Upload CA Certificate", exact=True).set_input_files(ca_file)
    page.get_by_label("Upload Certificate", exact=True).set_input_files(verification_file)
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page).to_have_url(console_url(live_server, "/certificates/"))
    expect(page.get_by_role("alert")).to_contain_text('CA certificate "browser_root-ca@1" was added.')
    table = page.get_by_role("table", name="CA certificates")
    link = table.get_by_role("link", name="browser_root-ca@1", exact=True)
    expect(link).to_be_visible()
    expect(table).to_contain_text("Browser Test Root CA")
    stored = CACertificate.objects.get(owner=user)
    assert stored.name == "browser_root-ca@1"
    assert AuthenticationCode.objects.get(owner=user, code=code).used_at is not None

    link.click()
    expect(page).to_have_url(console_url(live_server, stored.get_absolute_url()))
    expect(page.get_by_role("heading", name="browser_root-ca@1", level=1, exact=True)).to_be_visible()
    # The Add page now shows a fresh code: the used one is gone.
    assert open_add_certificate(page) != code


def test_private_key_upload_is_refused_beside_the_field(page: Page, live_server, user, tmp_path):
    sign_in(page, live_server, user.username, PASSWORD)
    code = open_add_certificate(page)
    ca = pki.make_ca()
    verification = pki.make_verification(code, ca)
    key_file = write_file(tmp_path, "key.pem", ca.key_pem)
    verification_file = write_file(tmp_path, "verificationCert.crt", verification.pem)

    page.get_by_label("CA Certificate Name", exact=True).fill("leaked_key")
    page.get_by_label("Upload CA Certificate", exact=True).set_input_files(key_file)
    page.get_by_label("Upload Certificate", exact=True).set_input_files(verification_file)
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.get_by_role("heading", name="Add Certificate", level=1, exact=True)).to_be_visible()
    ca_input = page.get_by_label("Upload CA Certificate", exact=True)
    expect(ca_input).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(ca_input).to_have_attribute("aria-invalid", "true")
    feedback = page.locator("#div_id_ca_certificate .invalid-feedback")
    expect(feedback).to_be_visible()
    # The message, then its Tencent error code as the API would report it.
    expect(feedback).to_have_text(f"{x509.PRIVATE_KEY_REFUSED} InvalidParameterValue.CACertInvalid")
    # Only that field is in error, and the name typed is kept.
    expect(page.locator(".invalid-feedback:visible")).to_have_count(1)
    expect(page.get_by_label("CA Certificate Name", exact=True)).to_have_value("leaked_key")
    # The required asterisk stays visible but out of the field's accessible name.
    expect(page.get_by_role("textbox", name="CA Certificate Name", exact=True)).to_have_value("leaked_key")
    expect(page.get_by_label("Authentication Code", exact=True)).to_have_value(code)
    # Browsers empty file inputs on a re-rendered page: the form says so.
    expect(
        page.get_by_text("Choose the files again: browsers do not keep them after an error.")
    ).to_be_visible()
    assert not CACertificate.objects.exists()
    assert AuthenticationCode.objects.get(owner=user, code=code).used_at is None


def test_sidebar_has_products_and_certificate_management_on_every_page(page: Page, live_server, user):
    ca_certificate = register(user, pki.make_ca("Sidebar CA"), "sidebar_ca")
    sign_in(page, live_server, user.username, PASSWORD)
    expect_console_sidebar(page)

    visited = [
        "/certificates/",
        "/certificates/add/",
        ca_certificate.get_absolute_url(),
        f"/certificates/{ca_certificate.pk}/update/",
        "/products/",
    ]
    for path in visited:
        response = page.goto(console_url(live_server, path))
        assert response is not None and response.ok, path
        expect_console_sidebar(page)

    sidebar = page.get_by_role("navigation", name="Console")
    sidebar.get_by_role("link", name="Certificate Management", exact=True).click()
    expect(page).to_have_url(console_url(live_server, "/certificates/"))
    expect_console_sidebar(page)
    sidebar.get_by_role("link", name="Products", exact=True).click()
    expect(page).to_have_url(console_url(live_server, "/products/"))
    expect_console_sidebar(page)


# The console's buttons and links must be named exactly as in DESIGN.md. Bootstrap
# Icons' <i class="bi …"> glyphs (CSS ::before content) would be read into the
# accessible name (" Certificate Management") without aria-hidden="true", and at 900 px
# and less the sidebar shows icons only, so its labels must stay visually hidden rather
# than display:none.


def test_sidebar_and_toolbar_names_are_exact_at_1280(page: Page, live_server, user):
    sign_in(page, live_server, user.username, PASSWORD)
    page.goto(console_url(live_server, "/certificates/"))
    sidebar = page.get_by_role("navigation", name="Console")
    for name in ("Products", "Certificate Management"):
        expect(sidebar.get_by_role("link", name=name, exact=True)).to_be_visible(timeout=2000)
    expect(page.get_by_role("link", name="Add Certificate", exact=True)).to_have_count(2, timeout=2000)


def test_sidebar_links_keep_their_names_at_800(page: Page, live_server, user):
    page.set_viewport_size({"width": 800, "height": 800})
    sign_in(page, live_server, user.username, PASSWORD)
    sidebar = page.get_by_role("navigation", name="Console")
    for name in ("Products", "Certificate Management"):
        expect(sidebar.get_by_role("link", name=name, exact=True)).to_be_visible(timeout=2000)


def test_ca_list_fits_its_card_at_1280_and_scrolls_inside_it_at_800(page: Page, live_server, user):
    root = pki.make_ca("Acme Offline Root CA G1 for Factory Lines and Field Devices")
    intermediate = pki.make_ca(
        "Acme Factory Line 3 Intermediate CA for Thermometers", issuer=root, key=pki.rsa_key(slot=1)
    )
    register(user, root, "acme_offline_root_ca_g1_factory")
    register(user, intermediate, "factory_line3_intermediate_ca")
    sign_in(page, live_server, user.username, PASSWORD)
    page.goto(console_url(live_server, "/certificates/"))
    scroller = page.locator(".table-scroll")
    overflow = "el => el.scrollWidth - el.clientWidth"

    assert scroller.evaluate(overflow) <= 0

    page.set_viewport_size({"width": 800, "height": 800})
    expect(page.get_by_role("table", name="CA certificates")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0


def test_expiring_ca_page_says_when_it_expires(page: Page, live_server, user):
    ca = pki.make_ca("Soon Expiring CA", not_after=datetime.now(UTC) + timedelta(days=12, hours=1))
    ca_certificate = register(user, ca, "soon_expiring")
    sign_in(page, live_server, user.username, PASSWORD)

    page.goto(console_url(live_server, ca_certificate.get_absolute_url()))

    expect(page.get_by_role("heading", name="soon_expiring", level=1, exact=True)).to_be_visible()
    expect(page.locator(".page-header .badge")).to_have_text(re.compile(r"^Expires in 1\sweek, 5\sdays$"))
