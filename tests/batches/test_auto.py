"""Batch Add, Auto-generate: N random names or prefix + counter, with certificates or PSKs."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography import x509 as cx509
from cryptography.x509.oid import NameOID
from django.db import connection
from django.urls import reverse
from django_tasks.base import TaskResultStatus

from batches import forms, inputs, services
from batches.models import BatchRow, DeviceBatch
from batches.tasks import run_device_batch
from certificates import issuance
from products import platform
from products import services as product_services
from products.models import Device, Product
from tests.batches.workers import run_worker_until_idle, tasks_in_backend
from tests.product_console import assert_field_error, assert_message, make_device, make_product, text

pytestmark = pytest.mark.django_db

QUANTITY_OUT_OF_RANGE = inputs.QUANTITY_OUT_OF_RANGE.format(limit=10_000)


def create_url(product: Product) -> str:
    return reverse("batches:batch_create", args=[product.product_id])


def raw_column(device: Device, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM products_device WHERE id = %s", [device.pk])
        return cursor.fetchone()[0]


def post_auto(client, product: Product, capture, **fields):
    """Submit Auto-generate; the on-commit enqueue runs, as it would after a real request."""
    data = {"method": forms.AUTO, **fields}
    with capture(execute=True):
        return client.post(create_url(product), data, follow=True)


def assert_nothing_stored() -> None:
    assert not DeviceBatch.objects.exists()
    assert not BatchRow.objects.exists()
    assert not Device.objects.exists()
    assert tasks_in_backend() == 0


def assert_rows_created(batch: DeviceBatch) -> list[BatchRow]:
    rows = list(batch.rows.select_related("device").order_by("number"))
    assert [row.number for row in rows] == list(range(1, batch.total + 1))
    for row in rows:
        assert (row.result, row.error_code, row.message) == (BatchRow.Result.CREATED, "", "")
        assert row.device.name == row.device_name and row.device.product_id == batch.product_id
    return rows


def test_generates_random_names_with_platform_ca_certificates(
    signed_in_client, user, django_capture_on_commit_callbacks
):
    product = make_product(user, "thermometers")

    response = post_auto(signed_in_client, product, django_capture_on_commit_callbacks, quantity="5")

    batch = DeviceBatch.objects.get()
    assert response.redirect_chain == [(f"/batches/{batch.pk}/", 302)]
    assert_message(response, "Batch of 5 devices queued.", level="success")
    assert (batch.owner, batch.product, batch.kind, batch.status) == (
        user,
        product,
        DeviceBatch.Kind.AUTO,
        DeviceBatch.Status.QUEUED,
    )
    assert (batch.total, batch.processed, batch.failed) == (5, 0, 0)
    assert tasks_in_backend() == 1
    task = run_device_batch.get_backend().get_result(batch.task_id)
    assert list(task.args) == [batch.pk, batch.lease] and len(batch.lease) == 32
    assert task.task.module_path == "batches.tasks.run_device_batch"
    assert not Device.objects.exists()

    services.run_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.failed, batch.error) == (
        DeviceBatch.Status.SUCCEEDED,
        5,
        0,
        "",
    )
    assert batch.started_at <= batch.finished_at
    rows = assert_rows_created(batch)
    names = [row.device_name for row in rows]
    assert len(set(names)) == 5 and all(re.fullmatch(r"[A-Za-z0-9]{18}", name) for name in names)
    device_ca = platform.device_ca().certificate
    for device in Device.objects.filter(product=product):
        certificate = cx509.load_pem_x509_certificate(device.certificate_pem.encode())
        common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert common_name == f"{product.product_id}{device.name}"
        certificate.verify_directly_issued_by(device_ca)
        assert device.key_origin == Device.KeyOrigin.GENERATED and not device.private_key_fetched
        key = issuance.load_private_key_pem(device.private_key_pem)
        assert key.public_key() == certificate.public_key()
        # Encrypted at rest: the column holds no PEM.
        assert "PRIVATE KEY" not in raw_column(device, "private_key_pem")
    page = text(signed_in_client.get(batch.get_absolute_url()))
    assert '<span class="badge text-bg-success">Finished</span>' in page
    assert "100%" in page


def test_generates_prefixed_names_with_psks_on_a_key_product(
    signed_in_client, user, django_capture_on_commit_callbacks
):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)

    response = post_auto(
        signed_in_client, product, django_capture_on_commit_callbacks, quantity="12", prefix="sensor_"
    )

    assert_message(response, "Batch of 12 devices queued.", level="success")
    batch = DeviceBatch.objects.get()
    services.run_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.total, batch.processed, batch.failed) == (
        DeviceBatch.Status.SUCCEEDED,
        12,
        12,
        0,
    )
    rows = assert_rows_created(batch)
    assert [row.device_name for row in rows] == [f"sensor_{number:02d}" for number in range(1, 13)]
    for device in Device.objects.filter(product=product):
        assert device.key_origin == Device.KeyOrigin.PSK and device.certificate_pem == ""
        assert len(base64.b64decode(device.psk, validate=True)) == 24
        assert device.psk not in raw_column(device, "psk")
    assert len({device.psk for device in Device.objects.all()}) == 12


def test_prefixed_names_already_taken_are_reported_not_duplicated(user, django_capture_on_commit_callbacks):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    make_device(product, "sensor_2")
    batch = services.start_batch(
        owner=user, product=product, kind=DeviceBatch.Kind.AUTO, names=inputs.generated_names(3, "sensor_")
    )

    services.run_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.failed) == (DeviceBatch.Status.SUCCEEDED, 3, 1)
    assert list(batch.rows.values_list("device_name", "result", "error_code", "message")) == [
        ("sensor_1", "created", "", ""),
        (
            "sensor_2",
            "failed",
            product_services.DEVICE_EXISTS_CODE,
            'The product already has a device named "sensor_2".',
        ),
        ("sensor_3", "created", "", ""),
    ]
    assert sorted(Device.objects.values_list("name", flat=True)) == ["sensor_1", "sensor_2", "sensor_3"]


@pytest.mark.parametrize("quantity", ["0", "-3", "10001"])
def test_refuses_a_quantity_outside_1_to_10000(
    signed_in_client, user, quantity, django_capture_on_commit_callbacks
):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)

    response = post_auto(signed_in_client, product, django_capture_on_commit_callbacks, quantity=quantity)

    assert_field_error(response, "quantity", QUANTITY_OUT_OF_RANGE)
    assert QUANTITY_OUT_OF_RANGE == "Choose between 1 and 10,000 devices."
    assert_nothing_stored()


def test_refuses_a_missing_quantity(signed_in_client, user, django_capture_on_commit_callbacks):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)

    response = post_auto(
        signed_in_client, product, django_capture_on_commit_callbacks, quantity="", prefix="s_"
    )

    assert_field_error(response, "quantity", forms.QUANTITY_REQUIRED)
    assert_nothing_stored()


@pytest.mark.parametrize("prefix", ["p" * 41, "has space", "a/b", "café_"])
def test_refuses_a_prefix_too_long_or_with_other_characters(
    signed_in_client, user, prefix, django_capture_on_commit_callbacks
):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)

    response = post_auto(
        signed_in_client, product, django_capture_on_commit_callbacks, quantity="10", prefix=prefix
    )

    assert_field_error(response, "prefix", forms.INVALID_PREFIX)
    assert_nothing_stored()


def test_the_longest_prefix_with_the_most_devices_still_fits_in_48(user):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    form = forms.BatchForm({"method": forms.AUTO, "quantity": "10000", "prefix": "p" * 40}, product=product)

    assert form.is_valid(), form.errors
    names = form.cleaned_data["names"]
    assert (names[0], names[-1], len(names)) == ("p" * 40 + "00001", "p" * 40 + "10000", 10_000)


@pytest.mark.django_db(transaction=True)
def test_console_form_and_task_worker_create_the_devices_end_to_end(signed_in_client, user, monkeypatch):
    """The whole path: the form, the on-commit enqueue, the task worker (database or RQ), the pages."""
    monkeypatch.setattr(services, "CHUNK_SIZE", 7)
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)

    response = signed_in_client.post(
        create_url(product), {"method": forms.AUTO, "quantity": "30", "prefix": "e2e_"}
    )

    batch = DeviceBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/batches/{batch.pk}/"
    assert run_device_batch.get_backend().get_result(batch.task_id).status == TaskResultStatus.READY

    run_worker_until_idle()

    batch.refresh_from_db()
    assert run_device_batch.get_backend().get_result(batch.task_id).status == TaskResultStatus.SUCCESSFUL
    assert tasks_in_backend() == 1
    assert (batch.status, batch.total, batch.processed, batch.failed) == (
        DeviceBatch.Status.SUCCEEDED,
        30,
        30,
        0,
    )
    assert_rows_created(batch)
    assert sorted(Device.objects.filter(product=product).values_list("name", flat=True)) == [
        f"e2e_{number:02d}" for number in range(1, 31)
    ]
    page = signed_in_client.get(batch.get_absolute_url())
    assert_message(page, "Batch of 30 devices queued.", level="success")
    assert '<span class="badge text-bg-success">Finished</span>' in text(page)
    assert signed_in_client.get(reverse("batches:batch_progress", args=[batch.pk])).json()["percent"] == 100
