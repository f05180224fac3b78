"""Batch Add, ZIP of device certificates (custom-CA products): one device per certificate, each file judged alone."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils.html import escape

from batches import forms, inputs, services
from batches.models import BatchRow, DeviceBatch
from certificates import x509
from iothub_console.errors import ServiceError
from products import services as product_services
from products.models import Device, Product
from tests import pki
from tests.product_console import (
    assert_field_error,
    assert_message,
    custom_ca,
    device_leaf,
    make_product,
    register_ca,
    text,
    upload,
)

pytestmark = pytest.mark.django_db

ROLE = "device certificate"
CERT_INVALID = product_services.CERT_INVALID_CODE


@pytest.fixture
def ca() -> pki.Issued:
    return custom_ca()


@pytest.fixture
def product(user, ca):
    return make_product(user, "door-locks", ca_certificate=register_ca(user, ca, "device_root_ca"))


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            if name.endswith("/"):
                archive.mkdir(name.rstrip("/"))
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


def post_zip(client, product: Product, data: bytes, capture, filename: str = "certificates.zip"):
    with capture(execute=True):
        return client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {"method": forms.UPLOAD, "certificates_file": upload(filename, data)},
            follow=True,
        )


def results(batch: DeviceBatch) -> list[tuple]:
    return list(
        batch.rows.order_by("number").values_list(
            "number", "source_file", "device_name", "result", "error_code", "message"
        )
    )


def assert_nothing_stored() -> None:
    assert not DeviceBatch.objects.exists()
    assert not BatchRow.objects.exists()
    assert not Device.objects.exists()


def test_creates_devices_from_good_certificates_and_reports_each_bad_one(
    signed_in_client, product, ca, django_capture_on_commit_callbacks
):
    pid = product.product_id
    now = datetime.now(UTC)
    other_ca = pki.make_ca("Other Device CA", key=pki.ec_key())
    good_pem = device_leaf(product, "dev_01", ca)
    good_der = device_leaf(product, "dev_02", ca, key=pki.ec_key())
    from_other_ca = device_leaf(product, "dev_03", other_ca)
    expired = device_leaf(
        product, "dev_04", ca, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    other_product = pki.make_leaf("ZZZZZZZZZZdev_05", ca, extended_key_usage=pki.CLIENT_AUTH)
    server_only = device_leaf(product, "dev_07", ca, extended_key_usage=pki.SERVER_AUTH_ONLY)
    twice = device_leaf(product, "dev_08", ca)
    forged = device_leaf(product, "dev_10", other_ca, issuer_name=ca.certificate.subject)
    archive = zip_of(
        {
            "certs/": b"",
            "certs/01_dev_01.crt": good_pem.pem,
            "certs/02_dev_02.cer": good_der.der,
            "certs/03_other_ca.crt": from_other_ca.pem,
            "certs/04_expired.crt": expired.pem,
            "certs/05_other_product.crt": other_product.pem,
            "certs/06_private_key.pem": good_pem.key_pem,
            "certs/07_server_auth.crt": server_only.pem,
            "certs/08_dev_08.crt": twice.pem,
            "certs/09_dev_08_again.pem": twice.pem,
            "certs/10_forged.crt": forged.pem,
            "certs/11_not_a_certificate.crt": b"hello",
            "certs/dev_01.key": good_pem.key_pem,
            "readme.txt": b"device certificates",
            "__MACOSX/certs/._01_dev_01.crt": b"resource fork",
        }
    )

    response = post_zip(signed_in_client, product, archive, django_capture_on_commit_callbacks)

    batch = DeviceBatch.objects.get()
    assert response.redirect_chain == [(f"/batches/{batch.pk}/", 302)]
    assert_message(response, "Batch of 11 devices queued.", level="success")
    assert (batch.kind, batch.source_name, batch.total) == (
        DeviceBatch.Kind.CERTIFICATES,
        "certificates.zip",
        11,
    )

    services.run_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.failed) == (DeviceBatch.Status.SUCCEEDED, 11, 8)
    date = expired.certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    assert results(batch) == [
        (1, "certs/01_dev_01.crt", "dev_01", "created", "", ""),
        (2, "certs/02_dev_02.cer", "dev_02", "created", "", ""),
        (
            3,
            "certs/03_other_ca.crt",
            "dev_03",
            "failed",
            CERT_INVALID,
            x509.ISSUER_NAME_MISMATCH.format(
                role=ROLE,
                issuer=other_ca.certificate.subject.rfc4514_string(),
                subject=ca.certificate.subject.rfc4514_string(),
            ),
        ),
        (
            4,
            "certs/04_expired.crt",
            "dev_04",
            "failed",
            CERT_INVALID,
            x509.EXPIRED.format(role=ROLE, date=date),
        ),
        (
            5,
            "certs/05_other_product.crt",
            "",
            "failed",
            CERT_INVALID,
            services.CERTIFICATE_FOR_OTHER_PRODUCT.format(common_name="ZZZZZZZZZZdev_05", product_id=pid),
        ),
        (
            6,
            "certs/06_private_key.pem",
            "",
            "failed",
            CERT_INVALID,
            f"certs/06_private_key.pem: {x509.PRIVATE_KEY_REFUSED}",
        ),
        (
            7,
            "certs/07_server_auth.crt",
            "dev_07",
            "failed",
            CERT_INVALID,
            x509.NO_CLIENT_AUTH.format(role=ROLE),
        ),
        (8, "certs/08_dev_08.crt", "dev_08", "created", "", ""),
        (
            9,
            "certs/09_dev_08_again.pem",
            "dev_08",
            "failed",
            product_services.DEVICE_EXISTS_CODE,
            services.DUPLICATE_IN_BATCH.format(name="dev_08"),
        ),
        (
            10,
            "certs/10_forged.crt",
            "dev_10",
            "failed",
            CERT_INVALID,
            x509.SIGNATURE_MISMATCH.format(role=ROLE),
        ),
        (
            11,
            "certs/11_not_a_certificate.crt",
            "",
            "failed",
            CERT_INVALID,
            f"certs/11_not_a_certificate.crt: {x509.NOT_A_CERTIFICATE}",
        ),
    ]
    devices = {device.name: device for device in Device.objects.filter(product=product)}
    assert sorted(devices) == ["dev_01", "dev_02", "dev_08"]
    for name, leaf in [("dev_01", good_pem), ("dev_02", good_der), ("dev_08", twice)]:
        device = devices[name]
        assert device.certificate_pem == leaf.pem.decode()
        assert device.certificate_fingerprint == x509.fingerprint_sha256(leaf.certificate)
        assert device.key_origin == Device.KeyOrigin.UPLOADED_CERTIFICATE and device.private_key_pem == ""
        assert (
            BatchRow.objects.get(batch=batch, result=BatchRow.Result.CREATED, device_name=name).device
            == device
        )
    # The private key zipped by mistake was never stored ("It was not stored").
    assert all(
        b"PRIVATE KEY" not in bytes(data)
        for data in BatchRow.objects.values_list("certificate_data", flat=True)
    )
    page = text(signed_in_client.get(batch.get_absolute_url()))
    assert escape(x509.NO_CLIENT_AUTH.format(role=ROLE)) in page
    assert escape(f"certs/06_private_key.pem: {x509.PRIVATE_KEY_REFUSED}") in page
    assert '<td>5</td><td class="mono">certs/05_other_product.crt</td>' in page

    download = signed_in_client.get(reverse("batches:batch_results", args=[batch.pk]))
    with zipfile.ZipFile(io.BytesIO(download.getvalue())) as archive:
        lines = list(csv.reader(io.StringIO(archive.read("results.csv").decode())))
        assert lines[0] == ["row", "device_name", "source_file", "result", "error_code", "message"]
        assert lines[1:] == [
            [str(number), name, source, result, code, message]
            for number, source, name, result, code, message in results(batch)
        ]
        assert sorted(archive.namelist()) == [
            "dev_01/dev_01_cert.crt",
            "dev_02/dev_02_cert.crt",
            "dev_08/dev_08_cert.crt",
            "device-ca.crt",
            "results.csv",
            "root-ca.crt",
        ]
        assert archive.read("dev_02/dev_02_cert.crt") == good_der.pem


def test_a_certificate_already_on_another_device_is_refused(user, product, ca):
    # Names come from the CN, so only a device stored before the rules (or another
    # door) could hold the certificate under another name; the batch still refuses it.
    leaf = device_leaf(product, "dev_01", ca)
    Device.objects.create(
        product=product,
        name="legacy",
        key_origin=Device.KeyOrigin.UPLOADED_CERTIFICATE,
        certificate_pem=leaf.pem.decode(),
        certificate_fingerprint=x509.fingerprint_sha256(leaf.certificate),
    )
    batch = services.start_batch(
        owner=user,
        product=product,
        kind=DeviceBatch.Kind.CERTIFICATES,
        certificates=[("dev_01.crt", leaf.pem)],
    )

    services.run_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.processed, batch.failed) == (1, 1)
    assert results(batch) == [
        (1, "dev_01.crt", "dev_01", "failed", CERT_INVALID, product_services.CERTIFICATE_IN_USE)
    ]
    assert list(Device.objects.values_list("name", flat=True)) == ["legacy"]


def test_the_page_offers_only_the_zip_upload(signed_in_client, product):
    response = signed_in_client.get(reverse("batches:batch_create", args=[product.product_id]))

    form = response.context["form"]
    assert list(form.fields) == ["method", "certificates_file"]
    assert form.fields["method"].choices == [(forms.UPLOAD, "Batch upload")]
    assert 'name="certificates_file"' in text(response) and 'name="quantity"' not in text(response)


def test_refuses_a_file_that_is_not_a_zip(signed_in_client, product, ca, django_capture_on_commit_callbacks):
    certificate = device_leaf(product, "dev_01", ca).pem

    response = post_zip(
        signed_in_client, product, certificate, django_capture_on_commit_callbacks, "dev_01.zip"
    )

    assert_field_error(response, "certificates_file", inputs.NOT_A_ZIP)
    assert_nothing_stored()


def test_refuses_a_zip_without_certificates(signed_in_client, product, django_capture_on_commit_callbacks):
    archive = zip_of({"readme.txt": b"hi", "dev.key": b"key"})

    response = post_zip(signed_in_client, product, archive, django_capture_on_commit_callbacks)

    assert_field_error(response, "certificates_file", inputs.NO_CERTIFICATES)
    assert_nothing_stored()


def test_refuses_a_csv_of_names_on_a_custom_ca_product(
    signed_in_client, user, product, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {"method": forms.UPLOAD, "names_file": upload("devices.csv", b"dev_01\r\n")},
        )
    assert_field_error(response, "certificates_file", forms.ZIP_REQUIRED)

    for kind in (DeviceBatch.Kind.NAMES, DeviceBatch.Kind.AUTO):
        with pytest.raises(ServiceError) as raised:
            services.start_batch(owner=user, product=product, kind=kind, names=["dev_01"])
        assert raised.value.code == product_services.WRONG_AUTH_TYPE_CODE
        assert raised.value.message == services.NAMES_NEED_ISSUER.format(ca="device_root_ca")
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("auth_method", "what"),
    [
        (Product.AuthMethod.CERTIFICATE, "certificates from the Platform CA"),
        (Product.AuthMethod.KEY, "keys (PSK)"),
    ],
)
def test_refuses_a_zip_of_certificates_without_a_custom_ca(
    signed_in_client, user, ca, auth_method, what, django_capture_on_commit_callbacks
):
    product = make_product(user, "thermometers", auth_method=auth_method)
    leaf = device_leaf(product, "dev_01", ca)

    with pytest.raises(ServiceError) as raised:
        services.start_batch(
            owner=user,
            product=product,
            kind=DeviceBatch.Kind.CERTIFICATES,
            certificates=[("dev_01.crt", leaf.pem)],
        )
    assert raised.value.code == product_services.WRONG_AUTH_TYPE_CODE
    assert raised.value.message == services.CERTIFICATES_NEED_CUSTOM_CA.format(what=what)

    # The console has no ZIP field for such a product: a ZIP sent as the CSV is not text.
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {
                "method": forms.UPLOAD,
                "names_file": upload("certificates.zip", zip_of({"dev_01.crt": leaf.der})),
            },
        )
    assert "certificates_file" not in response.context["form"].fields
    assert_field_error(response, "names_file", inputs.NOT_UTF8)
    assert_nothing_stored()
