"""Batch inputs that used to escape as a 500: a CSV field past the csv module's limit, a corrupt ZIP entry."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from batches import forms, inputs
from batches.models import BatchRow, DeviceBatch
from products.models import Device, Product
from tests.batches.workers import tasks_in_backend
from tests.product_console import assert_field_error, custom_ca, make_product, register_ca, upload

# One line holding a single 200,000-character field: under the form's 1 MiB, over csv's 131,072.
HUGE_FIELD_CSV = b"DeviceName\r\ndev_01\r\n" + b"x" * 200_000 + b"\r\n"


def corrupt_deflate_zip() -> bytes:
    """A ZIP whose directory is sound but whose one entry's deflate stream is not."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dev_01.crt", bytes(range(256)) * 16)
    data = bytearray(buffer.getvalue())
    header_end = 30 + len("dev_01.crt")
    data[header_end] = 0xFF  # BTYPE 11: a reserved block type, which zlib refuses
    return bytes(data)


def test_refuses_a_csv_line_too_long_to_read():
    with pytest.raises(inputs.InputError) as raised:
        inputs.read_device_names(HUGE_FIELD_CSV)

    assert raised.value.message == inputs.NOT_CSV.format(line=3)


def test_refuses_a_zip_whose_entry_cannot_be_inflated():
    with pytest.raises(inputs.InputError) as raised:
        inputs.read_certificate_zip(corrupt_deflate_zip())

    assert raised.value.message == inputs.ENTRY_DAMAGED.format(name="dev_01.crt")


@pytest.mark.django_db
def test_batch_page_refuses_a_csv_line_too_long_and_stores_nothing(
    signed_in_client, user, django_capture_on_commit_callbacks
):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {"method": forms.UPLOAD, "names_file": upload("devices.csv", HUGE_FIELD_CSV)},
        )

    assert response.status_code == 200
    assert_field_error(response, "names_file", inputs.NOT_CSV.format(line=3))
    assert not DeviceBatch.objects.exists()
    assert not BatchRow.objects.exists()
    assert tasks_in_backend() == 0
    assert not Device.objects.exists()


@pytest.mark.django_db
def test_batch_page_refuses_a_corrupt_zip_and_stores_nothing(
    signed_in_client, user, django_capture_on_commit_callbacks
):
    product = make_product(user, "meters", ca_certificate=register_ca(user, custom_ca()))

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {"method": forms.UPLOAD, "certificates_file": upload("devices.zip", corrupt_deflate_zip())},
        )

    assert response.status_code == 200
    assert_field_error(response, "certificates_file", inputs.ENTRY_DAMAGED.format(name="dev_01.crt"))
    assert not DeviceBatch.objects.exists()
    assert not BatchRow.objects.exists()
    assert not Device.objects.exists()
