"""The console's pages run under its Content-Security-Policy with nothing blocked, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests import pki
from tests.browser_fixtures import *  # noqa: F403  (fixtures: browser_type_launch_args, base_url)
from tests.browser_fixtures import console_url, sign_in
from tests.certificate_console import register
from tests.product_console import device_url, make_device, make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"  # the conftest `user` fixture's password
# Runs before any page script and outside the page's policy: it records every
# violation the page reports, whichever directive it breaks.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def watched_page(page: Page, live_server, user) -> tuple[Page, list[str]]:
    """A signed-in page whose console errors about the policy are collected."""
    messages: list[str] = []
    page.on(
        "console",
        lambda message: messages.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, live_server, user.username, PASSWORD)
    return page, messages


def assert_nothing_blocked(page: Page, live_server, messages: list[str], path: str) -> None:
    response = page.goto(console_url(live_server, path))
    assert response is not None and response.status == 200, path
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("load")
    assert page.evaluate("window.__cspViolations") == [], path
    assert messages == [], path


def test_main_pages_load_with_no_policy_violation(watched_page, live_server, user):
    page, messages = watched_page
    product = make_product(user, "meters")
    device = make_device(product, "meter_01")
    ca_certificate = register(user, pki.make_ca("Browser CSP CA"), "csp_ca")

    for path in (
        "/accounts/login/",
        "/products/",
        "/products/create/",
        product.get_absolute_url(),
        f"/products/{product.product_id}/devices/",
        f"/products/{product.product_id}/devices/add/",
        device_url(device),
        f"/products/{product.product_id}/batches/",
        f"/products/{product.product_id}/batches/add/",
        "/certificates/",
        "/certificates/add/",
        ca_certificate.get_absolute_url(),
        "/api-keys/",
    ):
        assert_nothing_blocked(page, live_server, messages, path)


def test_scripts_still_work_under_the_policy(watched_page, live_server, user):
    page, messages = watched_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    product = make_product(user, "meters")
    device = make_device(product, "meter_01")

    # The copy button (console.js) copies the device's client ID.
    page.goto(console_url(live_server, device_url(device)))
    button = page.get_by_role("button", name="Copy client ID")
    button.click()
    expect(button.locator("i")).to_have_class("bi bi-check2")
    assert page.evaluate("navigator.clipboard.readText()") == device.client_id

    # The user menu (Bootstrap's dropdown, positioned by Popper) opens.
    page.get_by_test_id("user-menu").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    # Create Product hides the CA choice for Key products (console.js).
    page.goto(console_url(live_server, "/products/create/"))
    page.get_by_label("Key", exact=True).check()
    expect(page.get_by_label("CA Certificate", exact=True)).to_be_hidden()
    page.get_by_label("Certificate", exact=True).check()
    expect(page.get_by_label("CA Certificate", exact=True)).to_be_visible()

    assert page.evaluate("window.__cspViolations") == []
    assert messages == []
