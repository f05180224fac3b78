"""Progress while a batch runs: the JSON endpoint, a count that only goes up, and the detail page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from batches import services
from batches.models import DeviceBatch
from products import services as product_services
from products import validators as product_validators
from products.models import Product
from tests.product_console import make_product, text

pytestmark = pytest.mark.django_db

NAMES = [f"dev_{number:02d}" for number in range(1, 11)]
PROGRESS_KEYS = {
    "status",
    "status_display",
    "total",
    "processed",
    "succeeded",
    "failed",
    "percent",
    "seconds_left",
    "finished",
    "error",
    "stalled",
    "can_resume",
}


@pytest.fixture
def product(user):
    return make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)


@pytest.fixture
def batch(user, product, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_SIZE", 3)
    names = [*NAMES[:4], "bad name", *NAMES[4:]]  # row 5 fails
    return services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=names)


def progress_url(batch: DeviceBatch) -> str:
    return reverse("batches:batch_progress", args=[batch.pk])


def test_a_queued_batch_reports_nothing_done_yet(signed_in_client, batch):
    response = signed_in_client.get(progress_url(batch))

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "queued",
        "status_display": "Queued",
        "total": 11,
        "processed": 0,
        "succeeded": 0,
        "failed": 0,
        "percent": 0,
        "seconds_left": None,
        "finished": False,
        "error": "",
        "stalled": False,
        "can_resume": False,
    }
    page = text(signed_in_client.get(batch.get_absolute_url()))
    assert '<span class="badge text-bg-secondary">Queued</span>' in page
    assert 'aria-valuenow="0"' in page and "progress-bar-striped progress-bar-animated" in page
    assert "estimating…" in page and "None so far." in page


def test_processed_only_goes_up_chunk_by_chunk_and_ends_at_total(signed_in_client, batch, monkeypatch):
    seen: list[dict] = []
    stored: list[int] = []
    process_chunk = services._process_chunk

    def recording(*args, **kwargs):
        process_chunk(*args, **kwargs)
        stored.append(DeviceBatch.objects.get(pk=batch.pk).processed)
        seen.append(signed_in_client.get(progress_url(batch)).json())

    monkeypatch.setattr(services, "_process_chunk", recording)

    services.run_batch(batch.pk)

    assert stored == [3, 6, 9, 11]
    assert [(p["processed"], p["succeeded"], p["failed"], p["percent"]) for p in seen] == [
        (3, 3, 0, 27),
        (6, 5, 1, 54),
        (9, 8, 1, 81),
        (11, 10, 1, 100),
    ]
    assert all(p["status"] == "running" and not p["finished"] and p["total"] == 11 for p in seen)
    assert all(isinstance(p["seconds_left"], int) and p["seconds_left"] >= 0 for p in seen)
    assert seen[-1]["seconds_left"] == 0
    final = signed_in_client.get(progress_url(batch)).json()
    assert set(final) == PROGRESS_KEYS
    assert (final["status"], final["status_display"], final["finished"], final["seconds_left"]) == (
        "succeeded",
        "Finished",
        True,
        None,
    )
    counts = (final["total"], final["processed"], final["succeeded"], final["failed"], final["percent"])
    assert counts == (11, 11, 10, 1, 100)


def test_seconds_left_follows_the_rate_so_far(batch):
    now = timezone.now()
    batch.status = DeviceBatch.Status.RUNNING
    batch.started_at = now - timedelta(seconds=10)

    assert batch.seconds_left(now) is None  # nothing done yet: no rate to go by
    batch.processed = 2
    assert batch.seconds_left(now) == 45  # 5 s a row, 9 rows left
    batch.processed = 11
    assert batch.seconds_left(now) == 0
    batch.status = DeviceBatch.Status.SUCCEEDED
    assert batch.seconds_left(now) is None


def test_the_detail_page_shows_the_bar_the_counts_and_the_failed_rows(signed_in_client, batch):
    services.run_batch(batch.pk)

    response = signed_in_client.get(batch.get_absolute_url())

    assert response.status_code == 200
    page = text(response)
    assert '<span class="badge text-bg-success">Finished</span>' in page
    assert 'aria-valuenow="100"' in page and '<div class="progress-bar" data-progress-bar>100%</div>' in page
    assert "progress-bar-animated" not in page
    assert "<span data-progress-processed>11</span> / 11" in page
    assert "<dd data-progress-succeeded>10</dd>" in page and "<dd data-progress-failed>1</dd>" in page
    assert "<dd data-progress-eta>—</dd>" in page
    assert (
        f'<td>5</td><td class="mono">bad name</td><td class="mono">{product_services.INVALID_VALUE_CODE}</td>'
        f"<td>{escape(product_validators.INVALID_DEVICE_NAME)}</td>"
    ) in page
    assert f'data-batch-progress="{reverse("batches:batch_progress", args=[batch.pk])}"' in page
    assert 'data-finished="true"' in page
    assert "disabled" not in page.split("data-progress-download", 1)[0].rsplit("<a ", 1)[1]


def test_the_detail_page_of_a_running_batch_estimates_the_time_left(signed_in_client, batch):
    DeviceBatch.objects.filter(pk=batch.pk).update(
        status=DeviceBatch.Status.RUNNING, started_at=timezone.now() - timedelta(seconds=30), processed=3
    )

    page = text(signed_in_client.get(batch.get_absolute_url()))

    assert '<span class="badge text-bg-primary">Running</span>' in page
    assert 'aria-valuenow="27"' in page and 'data-finished="false"' in page
    # 30 s for 3 rows, 8 to go; the request itself may add a fraction of a second.
    assert re.search(r"<dd data-progress-eta>about 8[01] s</dd>", page)
    download = page.split("data-progress-download", 1)[0].rsplit("<a ", 1)[1]
    assert "disabled" in download
