"""Control characters in batch names: the row is kept and fails on the device-name rule.

A CSV name or a certificate's Common Name with NUL in it was a 500 on PostgreSQL, which
cannot store NUL (`./scripts/with-postgres` runs this file there too). The row now shows
the name with U+FFFD in place of each control character, and the device rule's message.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from cryptography import x509 as cx509
from cryptography.x509.oid import NameOID
from django.urls import reverse

from batches import forms, services
from batches.models import DeviceBatch
from products import validators
from products.models import Device, Product
from tests import pki
from tests.product_console import custom_ca, make_product, register_ca, upload

pytestmark = pytest.mark.django_db

INVALID = "InvalidParameterValue"


def post(client, product: Product, field: str, filename: str, data: bytes, capture):
    with capture(execute=True):
        return client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {"method": forms.UPLOAD, field: upload(filename, data)},
            follow=True,
        )


def run(batch: DeviceBatch) -> list[tuple]:
    services.run_batch(batch.pk)
    return list(batch.rows.order_by("number").values_list("device_name", "result", "error_code", "message"))


def test_csv_names_with_control_characters_fail_as_bad_names(
    signed_in_client, user, django_capture_on_commit_callbacks
):
    product = make_product(user, "sensors", auth_method=Product.AuthMethod.KEY)

    response = post(
        signed_in_client,
        product,
        "names_file",
        "devices.csv",
        b"dev_01\ndev\x00nul\nesc\x1bape\ndev_04\n",
        django_capture_on_commit_callbacks,
    )

    batch = DeviceBatch.objects.get()
    assert response.redirect_chain == [(f"/batches/{batch.pk}/", 302)]
    assert run(batch) == [
        ("dev_01", "created", "", ""),
        ("dev\ufffdnul", "failed", INVALID, validators.INVALID_DEVICE_NAME),
        ("esc\ufffdape", "failed", INVALID, validators.INVALID_DEVICE_NAME),
        ("dev_04", "created", "", ""),
    ]
    assert sorted(Device.objects.values_list("name", flat=True)) == ["dev_01", "dev_04"]
    assert signed_in_client.get(batch.get_absolute_url()).status_code == 200


def test_a_certificate_whose_common_name_holds_nul_fails_as_a_bad_name(
    signed_in_client, user, django_capture_on_commit_callbacks
):
    ca = custom_ca()
    product = make_product(user, "door-locks", ca_certificate=register_ca(user, ca, "device_root_ca"))
    common_name = f"{product.product_id}dev\x0001"
    named = pki.make_certificate(
        cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
        issuer=ca,
        extensions=[cx509.ExtendedKeyUsage(pki.CLIENT_AUTH)],
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dev_01.crt", named.pem)

    post(
        signed_in_client,
        product,
        "certificates_file",
        "certificates.zip",
        buffer.getvalue(),
        django_capture_on_commit_callbacks,
    )

    assert run(DeviceBatch.objects.get()) == [
        ("dev\ufffd01", "failed", INVALID, validators.INVALID_DEVICE_NAME),
    ]
    assert not Device.objects.exists()
