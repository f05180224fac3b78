"""The device page in a real browser follows the broker's reports without a reload."""

from __future__ import annotations

import json

import pytest
import requests
from django.conf import settings
from playwright.sync_api import Page, expect

from tests.broker.link_service import BROKER, at, connected, disconnected, platform_device
from tests.browser_fixtures import *  # noqa: F403  (fixtures: browser_type_launch_args, base_url)
from tests.browser_fixtures import console_url, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POLL_WAIT_MS = 15000  # the page polls every 5 s


def report(live_server, events: list[dict]) -> None:
    """What a broker does: POST its events to the running console."""
    response = requests.post(
        console_url(live_server, "/broker/v1/events"),
        data=json.dumps({"broker": BROKER, "events": events}),
        headers={
            "Authorization": f"Bearer {settings.IOTHUB_BROKER_TOKEN}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_status_card_turns_online_then_offline_without_a_reload(page: Page, live_server, user):
    device = platform_device(user)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, live_server, "alice", "correct horse battery")
    page.goto(console_url(live_server, device.get_absolute_url()))
    badge = page.locator('.console-card [data-device-link="status"]')
    expect(badge).to_have_text("Not activated")
    page.evaluate("window.reloadMarker = true")

    report(live_server, [connected(device.client_id, at(0), peerhost="203.0.113.50")])

    expect(badge).to_have_text("Online", timeout=POLL_WAIT_MS)
    expect(badge).to_have_class("badge text-bg-success")
    expect(page.locator('[data-device-link="client_ip"]')).to_have_text("203.0.113.50")
    expect(page.locator('[data-device-link="first_online"]')).to_have_text("2026-11-30 12:00:00 UTC")

    report(live_server, [disconnected(device.client_id, at(30))])

    expect(badge).to_have_text("Offline", timeout=POLL_WAIT_MS)
    expect(badge).to_have_class("badge text-bg-secondary")
    expect(page.locator('[data-device-link="last_offline"]')).to_have_text("2026-11-30 12:00:30 UTC")
    assert page.evaluate("window.reloadMarker") is True  # the same page, never reloaded
    assert not [error for error in errors if "Content Security Policy" in error], errors
