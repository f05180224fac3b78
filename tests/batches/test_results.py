"""The results ZIP: results.csv row by row, a folder per created device, generated private keys once."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from cryptography import x509 as cx509
from django.urls import reverse

from batches import services
from batches.models import DeviceBatch
from certificates import issuance
from iothub_console.errors import ServiceError
from products import services as product_services
from products import validators as product_validators
from products.models import Device, Product
from tests.product_console import assert_message, make_product

pytestmark = pytest.mark.django_db

COLUMNS = ["row", "device_name", "source_file", "result", "error_code", "message"]
NAMES = ["dev_01", "dev_02", "bad name", "dev_01", "dev_03"]
DUPLICATE_DEV_01 = services.DUPLICATE_IN_BATCH.format(name="dev_01")


def finished_batch(user, product: Product) -> DeviceBatch:
    batch = services.start_batch(
        owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=NAMES, source_name="d.csv"
    )
    services.run_batch(batch.pk)
    batch.refresh_from_db()
    return batch


def download(client, batch: DeviceBatch) -> zipfile.ZipFile:
    response = client.get(reverse("batches:batch_results", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="{batch.product.product_id}_batch_{batch.pk}.zip"'
    )
    assert response["Cache-Control"] == "no-store"
    return zipfile.ZipFile(io.BytesIO(response.getvalue()))


def assert_results_csv_matches_rows(archive: zipfile.ZipFile, batch: DeviceBatch) -> None:
    lines = list(csv.reader(io.StringIO(archive.read("results.csv").decode("utf-8"), newline="")))
    rows = batch.rows.order_by("number").values_list("number", *COLUMNS[1:])
    assert lines == [COLUMNS, *[[str(value) for value in row] for row in rows]]
    assert lines[1:] == [
        ["1", "dev_01", "", "created", "", ""],
        ["2", "dev_02", "", "created", "", ""],
        [
            "3",
            "bad name",
            "",
            "failed",
            product_services.INVALID_VALUE_CODE,
            product_validators.INVALID_DEVICE_NAME,
        ],
        ["4", "dev_01", "", "failed", product_services.DEVICE_EXISTS_CODE, DUPLICATE_DEV_01],
        ["5", "dev_03", "", "created", "", ""],
    ]


def test_platform_ca_results_hold_each_certificate_and_the_private_keys_once(signed_in_client, user):
    product = make_product(user, "thermometers")
    batch = finished_batch(user, product)
    devices = {device.name: device for device in Device.objects.filter(product=product)}
    certificates = {name: device.certificate_pem for name, device in devices.items()}

    with download(signed_in_client, batch) as archive:
        assert_results_csv_matches_rows(archive, batch)
        assert sorted(archive.namelist()) == [
            "dev_01/dev_01_cert.crt",
            "dev_01/dev_01_private.key",
            "dev_02/dev_02_cert.crt",
            "dev_02/dev_02_private.key",
            "dev_03/dev_03_cert.crt",
            "dev_03/dev_03_private.key",
            "device-ca.crt",
            "results.csv",
            "root-ca.crt",
        ]
        device_ca = cx509.load_pem_x509_certificate(archive.read("device-ca.crt"))
        for name, device in devices.items():
            certificate_pem = archive.read(f"{name}/{name}_cert.crt")
            assert certificate_pem.decode() == device.certificate_pem
            key = issuance.load_private_key_pem(archive.read(f"{name}/{name}_private.key").decode())
            certificate = cx509.load_pem_x509_certificate(certificate_pem)
            assert key.public_key() == certificate.public_key()
            certificate.verify_directly_issued_by(device_ca)
            assert archive.getinfo(f"{name}/{name}_private.key").external_attr >> 16 == 0o600

    for device in Device.objects.filter(product=product):
        assert device.private_key_fetched and device.private_key_pem == ""
        assert device.certificate_pem == certificates[device.name]
        with pytest.raises(ServiceError) as raised:
            product_services.take_private_key(device=device)
        assert raised.value.message == product_services.KEY_ALREADY_FETCHED

    with download(signed_in_client, batch) as again:
        assert_results_csv_matches_rows(again, batch)
        assert sorted(again.namelist()) == [
            "dev_01/dev_01_cert.crt",
            "dev_02/dev_02_cert.crt",
            "dev_03/dev_03_cert.crt",
            "device-ca.crt",
            "results.csv",
            "root-ca.crt",
        ]
        assert again.read("dev_02/dev_02_cert.crt").decode() == certificates["dev_02"]


def test_a_key_taken_from_the_device_page_first_is_not_in_the_results(signed_in_client, user):
    product = make_product(user, "thermometers")
    batch = finished_batch(user, product)
    product_services.take_private_key(device=Device.objects.get(name="dev_02"))

    with download(signed_in_client, batch) as archive:
        keys = sorted(name for name in archive.namelist() if name.endswith(".key"))

    assert keys == ["dev_01/dev_01_private.key", "dev_03/dev_03_private.key"]
    assert Device.objects.filter(private_key_fetched=True).count() == 3


def test_psk_results_hold_psk_txt_and_no_certificates(signed_in_client, user):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    batch = finished_batch(user, product)

    with download(signed_in_client, batch) as archive:
        assert_results_csv_matches_rows(archive, batch)
        assert sorted(archive.namelist()) == [
            "dev_01/psk.txt",
            "dev_02/psk.txt",
            "dev_03/psk.txt",
            "results.csv",
        ]
        for device in Device.objects.filter(product=product):
            assert archive.read(f"{device.name}/psk.txt").decode() == device.psk + "\n"

    with download(signed_in_client, batch) as again:
        assert sorted(again.namelist()) == [
            "dev_01/psk.txt",
            "dev_02/psk.txt",
            "dev_03/psk.txt",
            "results.csv",
        ]


def test_results_wait_for_the_batch_to_finish(signed_in_client, user):
    product = make_product(user, "thermometers")
    batch = services.start_batch(owner=user, product=product, kind=DeviceBatch.Kind.NAMES, names=NAMES)

    response = signed_in_client.get(reverse("batches:batch_results", args=[batch.pk]), follow=True)

    assert response.redirect_chain == [(f"/batches/{batch.pk}/", 302)]
    assert_message(response, "The results can be downloaded when the batch has finished.")
    assert DeviceBatch.objects.get().status == DeviceBatch.Status.QUEUED
    assert not Device.objects.exists()


def test_a_failed_batch_lists_its_pending_rows(signed_in_client, user, monkeypatch):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)
    monkeypatch.setattr(services, "CHUNK_SIZE", 2)
    original = product_services.prepare_device

    def prepare_device(**kwargs):
        if kwargs["name"] == "bad name":
            raise RuntimeError("disk on fire")
        return original(**kwargs)

    monkeypatch.setattr(product_services, "prepare_device", prepare_device)
    batch = finished_batch(user, product)
    assert batch.status == DeviceBatch.Status.FAILED

    with download(signed_in_client, batch) as archive:
        lines = list(csv.reader(io.StringIO(archive.read("results.csv").decode(), newline="")))
        assert sorted(archive.namelist()) == ["dev_01/psk.txt", "dev_02/psk.txt", "results.csv"]

    assert [line[:4] for line in lines[1:]] == [
        ["1", "dev_01", "", "created"],
        ["2", "dev_02", "", "created"],
        ["3", "bad name", "", "pending"],
        ["4", "dev_01", "", "pending"],
        ["5", "dev_03", "", "pending"],
    ]
