"""A batch that dies half-way: finished chunks are kept whole, the rest stays pending, the batch says why."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from batches import services
from batches.models import BatchRow, DeviceBatch
from products import services as product_services
from products import validators as product_validators
from products.models import Device, Product
from tests.product_console import make_product, text

pytestmark = pytest.mark.django_db

NAMES = [f"dev_{number:02d}" for number in range(1, 9)]


@pytest.fixture
def product(user):
    return make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)


@pytest.fixture
def batch(user, product, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_SIZE", 3)
    names = [*NAMES[:2], "bad name", *NAMES[2:]]  # row 3 fails in the first chunk
    return services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=names)


def fail_on_call(monkeypatch, target, attribute: str, call: int, error: Exception) -> None:
    """Make `target.attribute` raise `error` on its `call`-th call, and work before that."""
    original = getattr(target, attribute)
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(target, attribute, failing)


def assert_stopped_after_first_chunk(batch: DeviceBatch, reason: str) -> None:
    batch.refresh_from_db()
    assert batch.status == DeviceBatch.Status.FAILED
    assert batch.error == services.BATCH_FAILED.format(error=reason)
    assert batch.finished_at is not None and batch.is_finished
    assert (batch.total, batch.processed, batch.failed) == (9, 3, 1)
    rows = list(
        batch.rows.order_by("number").values_list("number", "device_name", "result", "error_code", "message")
    )
    assert rows[:3] == [
        (1, "dev_01", "created", "", ""),
        (2, "dev_02", "created", "", ""),
        (
            3,
            "bad name",
            "failed",
            product_services.INVALID_VALUE_CODE,
            product_validators.INVALID_DEVICE_NAME,
        ),
    ]
    assert rows[3:] == [(number, name, "pending", "", "") for number, name in enumerate(NAMES[2:], start=4)]
    assert sorted(Device.objects.values_list("name", flat=True)) == ["dev_01", "dev_02"]
    assert (
        Product.objects.get(pk=batch.product_id).device_count == 2
    )  # the stored count rolled back with the chunk
    # Every device the batch made is linked from a created row, and the other way round.
    created = batch.rows.filter(result=BatchRow.Result.CREATED)
    assert set(created.values_list("device_id", flat=True)) == set(
        Device.objects.values_list("pk", flat=True)
    )
    assert all(row.device.name == row.device_name for row in created.select_related("device"))
    assert not batch.rows.exclude(result=BatchRow.Result.CREATED).filter(device__isnull=False).exists()


def test_an_error_preparing_the_second_chunk_keeps_the_first(batch, monkeypatch):
    fail_on_call(monkeypatch, product_services, "prepare_device", 4, RuntimeError("disk on fire"))

    services.run_batch(batch.pk)

    assert_stopped_after_first_chunk(batch, "RuntimeError: disk on fire")


def test_an_error_inserting_the_second_chunk_rolls_back_only_that_chunk(batch, monkeypatch):
    fail_on_call(monkeypatch, product_services, "insert_devices", 2, OSError("database went away"))

    services.run_batch(batch.pk)

    assert_stopped_after_first_chunk(batch, "OSError: database went away")


def test_the_pages_show_the_failure(signed_in_client, batch, monkeypatch):
    fail_on_call(monkeypatch, product_services, "prepare_device", 4, RuntimeError("disk on fire"))
    services.run_batch(batch.pk)

    progress = signed_in_client.get(f"/batches/{batch.pk}/progress/").json()
    page = text(signed_in_client.get(batch.get_absolute_url()))
    listing = text(signed_in_client.get(f"/products/{batch.product.product_id}/batches/"))

    message = services.BATCH_FAILED.format(error="RuntimeError: disk on fire")
    assert message == (
        "The batch stopped at an unexpected error (RuntimeError: disk on fire); the devices created before it are kept."
    )
    assert (progress["status"], progress["finished"], progress["error"]) == ("failed", True, message)
    assert (progress["processed"], progress["succeeded"], progress["failed"], progress["percent"]) == (
        3,
        2,
        1,
        33,
    )
    assert '<span class="badge text-bg-danger">Failed</span>' in page
    assert (
        f'<div class="alert alert-danger mt-3 mb-0 " role="alert" data-progress-error>{escape(message)}</div>'
        in page
    )
    assert escape(product_validators.INVALID_DEVICE_NAME) in page
    assert '<span class="badge text-bg-danger">Failed</span>' in listing
    assert DeviceBatch.objects.get().status == DeviceBatch.Status.FAILED


def test_a_failed_batch_is_not_run_again(batch, monkeypatch):
    fail_on_call(monkeypatch, product_services, "prepare_device", 4, RuntimeError("disk on fire"))
    services.run_batch(batch.pk)
    monkeypatch.undo()

    services.run_batch(batch.pk)  # a retried task finds it finished and leaves it

    assert_stopped_after_first_chunk(batch, "RuntimeError: disk on fire")
