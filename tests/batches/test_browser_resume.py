"""The batch page in a real browser: a batch that stops making progress offers Resume without a reload."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from batches import services
from batches.models import DeviceBatch
from products.models import Product
from tests.browser_fixtures import *  # noqa: F403  (fixtures: browser_type_launch_args, base_url)
from tests.browser_fixtures import console_url, sign_in
from tests.product_console import make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_stalled_batch_shows_resume_and_resume_queues_it_again(page: Page, live_server, user):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    batch = services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=["dev_01"])
    DeviceBatch.objects.filter(pk=batch.pk).update(
        status=DeviceBatch.Status.RUNNING, heartbeat_at=timezone.now()
    )
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, live_server, "alice", "correct horse battery")
    page.goto(console_url(live_server, batch.get_absolute_url()))
    resume = page.get_by_role("button", name="Resume", exact=True)
    expect(resume).to_be_hidden()
    page.evaluate("window.reloadMarker = true")

    # The worker dies: no sign of life for longer than the stall interval.
    DeviceBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=61))

    expect(resume).to_be_visible(timeout=10_000)
    expect(page.locator("[data-progress-stalled]")).to_have_text(services.BATCH_STALLED.format(seconds=60))
    assert page.evaluate("window.reloadMarker") is True  # the poll showed it, no reload
    resume.click()

    expect(page.get_by_text(services.BATCH_RESUMED, exact=True)).to_be_visible()
    expect(page.locator("[data-progress-status] .badge")).to_have_text("Queued")
    expect(resume).to_be_hidden()
    stored = DeviceBatch.objects.get(pk=batch.pk)
    assert stored.status == DeviceBatch.Status.QUEUED and stored.lease != batch.lease
    assert not [error for error in errors if "Content Security Policy" in error], errors
