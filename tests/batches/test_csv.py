"""Batch Add, CSV upload: one name per line; each row judged like a single Add Device."""

from __future__ import annotations

import pytest
from django import forms as django_forms
from django.urls import reverse
from django.utils.html import escape

from batches import forms, inputs, services
from batches.models import BatchRow, DeviceBatch
from products import services as product_services
from products import validators as product_validators
from products.models import Device, Product
from tests.batches.workers import tasks_in_backend
from tests.product_console import assert_field_error, assert_message, make_product, text, upload

pytestmark = pytest.mark.django_db

EXISTS = product_services.DEVICE_EXISTS_CODE
INVALID = product_services.INVALID_VALUE_CODE
BAD_NAME = product_validators.INVALID_DEVICE_NAME
LONG_NAME = "x" * 49
# BOM, CRLF, blank lines, a header, a repeat and four names the device rules refuse.
DEVICES_CSV = (
    f"\ufeffDeviceName\r\ndev_01\r\n\r\ndev_02\r\ndev_01\r\n{LONG_NAME}\r\nhas space\r\na/b\r\n设备01\r\n\r\ndev_03\r\n"
).encode()


def taken(name: str) -> tuple[str, str, str]:
    return ("failed", EXISTS, product_services.DEVICE_NAME_TAKEN.format(name=name))


BAD_ROWS = [
    (4, LONG_NAME, "failed", INVALID, BAD_NAME),
    (5, "has space", "failed", INVALID, BAD_NAME),
    (6, "a/b", "failed", INVALID, BAD_NAME),
    (7, "设备01", "failed", INVALID, BAD_NAME),
]


@pytest.fixture
def product(user):
    return make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)


def post_csv(client, product: Product, data: bytes, capture, filename: str = "devices.csv"):
    with capture(execute=True):
        return client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {"method": forms.UPLOAD, "names_file": upload(filename, data)},
            follow=True,
        )


def run(batch: DeviceBatch) -> DeviceBatch:
    services.run_batch(batch.pk)
    batch.refresh_from_db()
    return batch


def results(batch: DeviceBatch) -> list[tuple]:
    return list(
        batch.rows.order_by("number").values_list("number", "device_name", "result", "error_code", "message")
    )


def assert_refused(response, message: str) -> None:
    assert_field_error(response, "names_file", message)
    assert not DeviceBatch.objects.exists()
    assert not BatchRow.objects.exists()
    assert tasks_in_backend() == 0


def test_creates_the_good_rows_and_reports_each_bad_one(
    signed_in_client, product, django_capture_on_commit_callbacks
):
    response = post_csv(signed_in_client, product, DEVICES_CSV, django_capture_on_commit_callbacks)

    batch = DeviceBatch.objects.get()
    assert response.redirect_chain == [(f"/batches/{batch.pk}/", 302)]
    assert_message(response, "Batch of 8 devices queued.", level="success")
    assert (batch.kind, batch.source_name, batch.total) == (DeviceBatch.Kind.NAMES, "devices.csv", 8)

    batch = run(batch)

    assert (batch.status, batch.processed, batch.failed) == (DeviceBatch.Status.SUCCEEDED, 8, 5)
    assert results(batch) == [
        (1, "dev_01", "created", "", ""),
        (2, "dev_02", "created", "", ""),
        (3, "dev_01", "failed", EXISTS, services.DUPLICATE_IN_BATCH.format(name="dev_01")),
        *BAD_ROWS,
        (8, "dev_03", "created", "", ""),
    ]
    devices = {device.name: device for device in Device.objects.filter(product=product)}
    assert sorted(devices) == ["dev_01", "dev_02", "dev_03"]
    for row in batch.rows.filter(result=BatchRow.Result.CREATED):
        assert row.device == devices[row.device_name]
    assert not batch.rows.filter(result=BatchRow.Result.FAILED, device__isnull=False).exists()
    page = text(signed_in_client.get(batch.get_absolute_url()))
    assert "Batch upload (CSV of device names) (devices.csv)" in page
    assert f'<td>3</td><td class="mono">dev_01</td><td class="mono">{EXISTS}</td>' in page
    assert escape(services.DUPLICATE_IN_BATCH.format(name="dev_01")) in page
    for number, name, _, code, message in BAD_ROWS:
        cells = f'<td>{number}</td><td class="mono">{escape(name)}</td><td class="mono">{code}</td>'
        assert f"{cells}<td>{escape(message)}</td>" in page


def test_a_repeat_in_a_later_chunk_reads_as_taken(user, product, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_SIZE", 2)
    batch = services.start_batch(
        owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=["dev_01", "dev_02", "dev_01"]
    )

    batch = run(batch)

    assert (batch.processed, batch.failed) == (3, 1)
    assert results(batch)[2] == (3, "dev_01", *taken("dev_01"))
    assert Device.objects.count() == 2


def test_running_the_same_file_again_creates_no_duplicates(
    signed_in_client, product, django_capture_on_commit_callbacks
):
    post_csv(signed_in_client, product, DEVICES_CSV, django_capture_on_commit_callbacks)
    first = run(DeviceBatch.objects.get())
    devices_before = list(Device.objects.order_by("name").values_list("pk", "name", "psk"))

    post_csv(signed_in_client, product, DEVICES_CSV, django_capture_on_commit_callbacks)
    second = run(DeviceBatch.objects.exclude(pk=first.pk).get())

    assert (second.status, second.processed, second.failed) == (DeviceBatch.Status.SUCCEEDED, 8, 8)
    assert results(second) == [
        (1, "dev_01", *taken("dev_01")),
        (2, "dev_02", *taken("dev_02")),
        (3, "dev_01", *taken("dev_01")),
        *BAD_ROWS,
        (8, "dev_03", *taken("dev_03")),
    ]
    assert list(Device.objects.order_by("name").values_list("pk", "name", "psk")) == devices_before
    assert Product.objects.get(pk=product.pk).device_count == 3
    page = text(signed_in_client.get(second.get_absolute_url()))
    assert escape(product_services.DEVICE_NAME_TAKEN.format(name="dev_03")) in page


def test_refuses_more_than_10000_rows_and_stores_nothing(
    signed_in_client, product, django_capture_on_commit_callbacks
):
    data = ("DeviceName\r\n" + "".join(f"dev_{number:05d}\r\n" for number in range(1, 10_002))).encode()

    response = post_csv(signed_in_client, product, data, django_capture_on_commit_callbacks)

    assert_refused(response, inputs.TOO_MANY.format(what="CSV file", count=10_001, limit=10_000))
    assert not Device.objects.exists()


def test_refuses_a_file_that_is_not_utf8(signed_in_client, product, django_capture_on_commit_callbacks):
    windows_text = "dev_01\r\ncafé\r\n".encode("cp1252")

    response = post_csv(signed_in_client, product, windows_text, django_capture_on_commit_callbacks)

    assert_refused(response, inputs.NOT_UTF8)


def test_refuses_an_empty_file(signed_in_client, product, django_capture_on_commit_callbacks):
    response = post_csv(signed_in_client, product, b"", django_capture_on_commit_callbacks)

    assert_refused(response, str(django_forms.FileField.default_error_messages["empty"]))


def test_refuses_a_file_with_only_a_header_and_blank_lines(
    signed_in_client, product, django_capture_on_commit_callbacks
):
    response = post_csv(
        signed_in_client, product, b"\xef\xbb\xbfDeviceName\r\n\r\n\r\n", django_capture_on_commit_callbacks
    )

    assert_refused(response, inputs.NO_NAMES)


def test_refuses_a_missing_file(signed_in_client, product, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(
            reverse("batches:batch_create", args=[product.product_id]), {"method": forms.UPLOAD}
        )

    assert_refused(response, forms.CSV_REQUIRED)


def test_refuses_a_file_over_1_mib(signed_in_client, product, django_capture_on_commit_callbacks):
    data = b"dev_01\r\n" + b"#" * (1024 * 1024)

    response = post_csv(signed_in_client, product, data, django_capture_on_commit_callbacks)

    assert_refused(response, forms.CSV_TOO_LARGE)
