"""A worker killed mid-batch (SIGKILL): the next worker finishes the batch, with no duplicates and every key.

Real worker processes on the test database: `manage.py db_worker`, or with
IOTHUB_TASKS_BACKEND=django_tasks_rq.RQBackend (make test's RQ run) `manage.py rqworker`.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from batches import services
from batches.models import BatchRow, DeviceBatch
from products.models import Device, Product
from tests.batches.workers import kill, running_worker, wait_for
from tests.product_console import make_product

TOTAL = 5_000
NAMES = [f"dev_{number:04d}" for number in range(1, TOTAL + 1)]


def stored(batch: DeviceBatch) -> DeviceBatch:
    return DeviceBatch.objects.get(pk=batch.pk)


@pytest.mark.django_db(transaction=True)
def test_the_next_worker_finishes_a_batch_whose_worker_was_killed(signed_in_client, user, tmp_path):
    product = make_product(user, "thermometers")  # Platform CA: each device gets a one-time private key
    log = tmp_path / "workers.log"
    batch = services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=NAMES)

    with running_worker(log) as first:
        wait_for(lambda: stored(batch).processed > 0, first, log, "progress")
        kill(first)

    killed = stored(batch)
    assert killed.status == DeviceBatch.Status.RUNNING  # what a dead worker leaves behind
    assert 0 < killed.processed < TOTAL, "the batch finished before the worker could be killed"
    created_before = set(
        batch.rows.filter(result=BatchRow.Result.CREATED).values_list("device__name", flat=True)
    )
    assert len(created_before) == killed.processed == Device.objects.filter(product=product).count()
    assert not Device.objects.filter(product=product, private_key_fetched=True).exists()

    with running_worker(log) as second:
        wait_for(lambda: stored(batch).is_finished, second, log, "the batch to finish")

    finished = stored(batch)
    assert (finished.status, finished.processed, finished.failed, finished.error) == (
        DeviceBatch.Status.SUCCEEDED,
        TOTAL,
        0,
        "",
    )
    assert finished.lease != killed.lease  # queued again, under a new lease
    devices = Device.objects.filter(product=product)
    assert devices.count() == TOTAL == Product.objects.get(pk=product.pk).device_count
    assert sorted(devices.values_list("name", flat=True)) == NAMES
    assert batch.rows.filter(result=BatchRow.Result.CREATED).count() == TOTAL
    assert sorted(batch.rows.values_list("device__name", flat=True)) == NAMES

    response = signed_in_client.get(reverse("batches:batch_results", args=[batch.pk]))

    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.getvalue())) as archive:
        keys = {name.split("/")[0] for name in archive.namelist() if name.endswith("_private.key")}
        results = archive.read("results.csv").decode().splitlines()
    assert keys == set(NAMES)
    assert created_before <= keys  # the devices made before the crash kept their keys for the results
    assert len(results) == TOTAL + 1 and all(line.endswith(",created,,") for line in results[1:])
    assert devices.filter(private_key_fetched=True).count() == TOTAL
