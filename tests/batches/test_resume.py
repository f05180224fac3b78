"""Resume: a batch whose worker died or that was interrupted is queued again and finishes without duplicates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from batches import services
from batches.models import BatchRow, DeviceBatch
from batches.tasks import run_device_batch
from iothub_console.errors import ServiceError
from products import services as product_services
from products.models import Device, Product
from tests.batches.workers import run_worker_until_idle, take_queued_task
from tests.product_console import assert_message, make_product, text

pytestmark = pytest.mark.django_db

NAMES = [f"dev_{number:02d}" for number in range(1, 10)]
NOT_RESUMABLE = services.BATCH_NOT_RESUMABLE.format(seconds=60)
ORIGINAL_PREPARE_DEVICE = product_services.prepare_device


@pytest.fixture
def product(user):
    return make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)


@pytest.fixture
def batch(user, product, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_SIZE", 3)
    return services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=NAMES)


def interrupt_on_call(monkeypatch, call: int, interruption: BaseException | None = None, then=None) -> None:
    """Make the `call`-th prepare_device raise `interruption` (or run `then`), as a worker dying there would."""
    original = product_services.prepare_device
    calls = []

    def prepare_device(**kwargs):
        calls.append(1)
        if len(calls) == call:
            if then is not None:
                then()
            if interruption is not None:
                raise interruption
        return original(**kwargs)

    monkeypatch.setattr(product_services, "prepare_device", prepare_device)


def die_after_first_chunk(batch: DeviceBatch, monkeypatch) -> DeviceBatch:
    """What a SIGKILL during the second chunk leaves: running, one chunk done, no sign of life since."""
    interrupt_on_call(monkeypatch, 4, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        services.run_batch(batch.pk)
    monkeypatch.setattr(product_services, "prepare_device", ORIGINAL_PREPARE_DEVICE)
    # A killed worker gets no chance to mark the batch failed.
    DeviceBatch.objects.filter(pk=batch.pk).update(
        status=DeviceBatch.Status.RUNNING,
        error="",
        finished_at=None,
        heartbeat_at=timezone.now() - timedelta(seconds=61),
    )
    batch.refresh_from_db()
    assert (batch.processed, Device.objects.count()) == (3, 3)
    return batch


def resume_url(batch: DeviceBatch) -> str:
    return reverse("batches:batch_resume", args=[batch.pk])


def queued_task_args(batch: DeviceBatch) -> list:
    batch.refresh_from_db()
    return list(run_device_batch.get_backend().get_result(batch.task_id).args)


def assert_finished_without_duplicates(batch: DeviceBatch) -> None:
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.failed, batch.error) == (
        DeviceBatch.Status.SUCCEEDED,
        9,
        0,
        "",
    )
    assert sorted(Device.objects.values_list("name", flat=True)) == NAMES
    assert Product.objects.get(pk=batch.product_id).device_count == 9
    assert list(batch.rows.order_by("number").values_list("result", "device__name")) == [
        ("created", name) for name in NAMES
    ]


def test_a_stalled_batch_page_offers_resume_and_resume_finishes_it(
    signed_in_client, batch, monkeypatch, django_capture_on_commit_callbacks
):
    stalled = die_after_first_chunk(batch, monkeypatch)
    old_lease = stalled.lease
    page = text(signed_in_client.get(batch.get_absolute_url()))
    assert f'<form method="post" action="{resume_url(batch)}" data-progress-resume>' in page
    assert escape(services.BATCH_STALLED.format(seconds=60)) in page
    assert 'role="status" data-progress-stalled>' in page and "alert-warning mt-3 mb-0 d-none" not in page
    progress = signed_in_client.get(reverse("batches:batch_progress", args=[batch.pk])).json()
    assert (progress["status"], progress["stalled"], progress["can_resume"]) == ("running", True, True)

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(resume_url(batch), follow=True)

    assert response.redirect_chain == [(f"/batches/{batch.pk}/", 302)]
    assert_message(response, services.BATCH_RESUMED, level="success")
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.heartbeat_at) == (DeviceBatch.Status.QUEUED, 3, None)
    assert batch.lease != old_lease and queued_task_args(batch) == [batch.pk, batch.lease]
    assert "data-progress-resume hidden" in text(response)

    services.run_batch(batch.pk, old_lease)  # the dead worker's task, were it ever run again
    assert DeviceBatch.objects.get(pk=batch.pk).status == DeviceBatch.Status.QUEUED
    services.run_batch(*queued_task_args(batch))

    assert_finished_without_duplicates(batch)


def test_a_batch_still_making_progress_cannot_be_resumed(signed_in_client, batch):
    DeviceBatch.objects.filter(pk=batch.pk).update(
        status=DeviceBatch.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(seconds=30)
    )
    lease = DeviceBatch.objects.get(pk=batch.pk).lease
    assert "data-progress-resume hidden" in text(signed_in_client.get(batch.get_absolute_url()))

    response = signed_in_client.post(resume_url(batch), follow=True)

    assert_message(response, NOT_RESUMABLE)
    assert NOT_RESUMABLE == (
        "Only a batch that stopped can be resumed: this one is queued, running or finished. "
        "A running batch whose worker died can be resumed 60 seconds after its last progress."
    )
    batch.refresh_from_db()
    assert (batch.status, batch.lease) == (DeviceBatch.Status.RUNNING, lease)


def test_a_finished_batch_cannot_be_resumed(signed_in_client, batch):
    services.run_batch(batch.pk)

    with pytest.raises(ServiceError) as raised:
        services.resume_batch(batch=batch)

    assert (raised.value.code, raised.value.message) == (services.BATCH_NOT_RESUMABLE_CODE, NOT_RESUMABLE)
    response = signed_in_client.post(resume_url(batch), follow=True)
    assert_message(response, NOT_RESUMABLE)
    assert DeviceBatch.objects.get(pk=batch.pk).status == DeviceBatch.Status.SUCCEEDED
    assert Device.objects.count() == 9


def test_resume_is_a_post_on_the_owners_batch(client, other_user, batch):
    client.force_login(other_user)
    DeviceBatch.objects.filter(pk=batch.pk).update(status=DeviceBatch.Status.FAILED)

    assert client.post(resume_url(batch)).status_code == 404
    client.force_login(batch.owner)
    assert client.get(resume_url(batch)).status_code == 405
    assert DeviceBatch.objects.get(pk=batch.pk).status == DeviceBatch.Status.FAILED


def test_an_interrupted_worker_marks_the_batch_failed_and_resume_finishes_it(batch, monkeypatch):
    interrupt_on_call(monkeypatch, 4, KeyboardInterrupt())

    with pytest.raises(KeyboardInterrupt):  # the worker still stops
        services.run_batch(batch.pk)

    batch.refresh_from_db()
    message = services.BATCH_INTERRUPTED.format(error="KeyboardInterrupt: ")
    assert message == (
        "The batch was interrupted (KeyboardInterrupt: : its worker was stopped); the devices created "
        "before it are kept. Resume finishes it."
    )
    assert (batch.status, batch.error, batch.processed) == (DeviceBatch.Status.FAILED, message, 3)
    assert batch.finished_at is not None and batch.can_resume
    monkeypatch.setattr(product_services, "prepare_device", ORIGINAL_PREPARE_DEVICE)

    resumed = services.resume_batch(batch=batch)

    assert (resumed.status, resumed.error, resumed.finished_at) == (DeviceBatch.Status.QUEUED, "", None)
    services.run_batch(batch.pk, resumed.lease)
    assert_finished_without_duplicates(batch)


def test_a_task_whose_batch_was_resumed_meanwhile_stops_and_writes_nothing(batch, monkeypatch):
    """A worker that was only slow, not dead: the task holding the new lease does the rows."""

    def stall_and_resume():
        DeviceBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=61))
        services.resume_batch(batch=batch)

    interrupt_on_call(monkeypatch, 5, then=stall_and_resume)  # during the second chunk

    services.run_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.processed) == (DeviceBatch.Status.QUEUED, 3)  # the second chunk rolled back
    assert sorted(Device.objects.values_list("name", flat=True)) == NAMES[:3]
    assert batch.rows.filter(result=BatchRow.Result.PENDING).count() == 6
    services.run_batch(batch.pk, batch.lease)
    assert_finished_without_duplicates(batch)


def test_a_starting_worker_resumes_only_the_stalled_running_batches(user, product, batch, monkeypatch):
    fresh = services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=["x_1"])
    DeviceBatch.objects.filter(pk=fresh.pk).update(
        status=DeviceBatch.Status.RUNNING, heartbeat_at=timezone.now()
    )
    failed = services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=["y_1"])
    DeviceBatch.objects.filter(pk=failed.pk).update(status=DeviceBatch.Status.FAILED)
    stalled = die_after_first_chunk(batch, monkeypatch)

    assert services.resume_stalled_batches() == [stalled.pk]

    statuses = dict(DeviceBatch.objects.values_list("pk", "status"))
    assert statuses == {stalled.pk: "queued", fresh.pk: "running", failed.pk: "failed"}
    assert DeviceBatch.objects.get(pk=stalled.pk).lease != stalled.lease
    assert services.resume_stalled_batches() == []


@pytest.mark.django_db(transaction=True)
def test_a_worker_starting_after_the_crash_resumes_the_batch_and_finishes_it(batch, monkeypatch):
    lease = die_after_first_chunk(batch, monkeypatch).lease
    take_queued_task(batch.task_id)  # the dead worker's: nobody else will run it

    run_worker_until_idle()  # `manage.py db_worker --batch` (or `rqworker --burst`): one look, then the queue

    assert_finished_without_duplicates(batch)
    assert batch.lease != lease
