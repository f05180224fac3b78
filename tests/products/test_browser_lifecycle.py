"""Revoke and renew a device's certificate in a real browser, under the Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from lifecycle.models import PreviousCertificate, RevokedCertificate
from products.models import Device
from tests.browser_fixtures import *  # noqa: F403  (fixtures: browser_type_launch_args, base_url)
from tests.browser_fixtures import console_url, sign_in
from tests.product_console import device_url, make_device, make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"  # the conftest `user` fixture's password
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def live_page(page: Page, live_server, user) -> Page:
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, live_server, user.username, PASSWORD)
    return page


def test_renew_then_revoke_from_the_device_page(live_page: Page, live_server, user):
    page = live_page
    device = make_device(make_product(user, "lamps"), "lamp_01")
    page.goto(console_url(live_server, device_url(device)))

    page.get_by_role("link", name="Renew Certificate").click()
    csr_field = page.get_by_label("Certificate Signing Request (CSR)")
    expect(csr_field).to_be_hidden()
    page.get_by_label("Sign my CSR (the private key never leaves the device)").check()
    expect(csr_field).to_be_visible()
    page.get_by_label("Generate a key and certificate (EC P-256)").check()
    page.get_by_role("button", name="Renew Certificate").click()

    expect(page).to_have_url(console_url(live_server, device_url(device)))
    expect(
        page.get_by_text("keeps working until the device connects with its new certificate")
    ).to_be_visible()
    assert PreviousCertificate.objects.get().fingerprint == device.certificate_fingerprint

    page.get_by_label("Reason").select_option(label="Cessation of operation")
    page.get_by_role("button", name="Revoke Certificate").click()

    expect(page.locator(".badge.text-bg-danger", has_text="Revoked")).to_be_visible()
    current = Device.objects.get(pk=device.pk)
    assert RevokedCertificate.objects.get(fingerprint=current.certificate_fingerprint).reason == (
        "cessationOfOperation"
    )
    expect(page.get_by_role("button", name="Revoke Certificate")).to_have_count(0)
    assert page.evaluate("window.__cspViolations") == []
