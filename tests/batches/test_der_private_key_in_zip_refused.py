"""A DER private key zipped by mistake is refused when the batch is stored, as a PEM one is."""

from __future__ import annotations

import io
import zipfile

import pytest
from cryptography.hazmat.primitives import serialization
from django.urls import reverse

from batches import forms
from batches.models import BatchRow
from certificates import x509
from products import services as product_services
from tests import pki
from tests.product_console import custom_ca, make_product, register_ca, upload

pytestmark = pytest.mark.django_db


def der_private_key() -> bytes:
    return pki.ec_key().private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_der_private_key_in_a_zip_is_not_stored(signed_in_client, user, django_capture_on_commit_callbacks):
    product = make_product(user, "door-locks", ca_certificate=register_ca(user, custom_ca()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dev_01.crt", der_private_key())

    # The batch task does not run: what the upload stored is what sits in the database
    # until a worker picks it up.
    with django_capture_on_commit_callbacks(execute=False):
        response = signed_in_client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {"method": forms.UPLOAD, "certificates_file": upload("devices.zip", buffer.getvalue())},
        )

    assert response.status_code == 302
    row = BatchRow.objects.get()
    assert bytes(row.certificate_data) == b""
    assert (row.result, row.error_code, row.message) == (
        BatchRow.Result.FAILED,
        product_services.CERT_INVALID_CODE,
        f"dev_01.crt: {x509.PRIVATE_KEY_REFUSED}",
    )


def test_holds_private_key_tells_keys_from_certificates():
    ca = custom_ca()
    assert x509.holds_private_key(der_private_key())
    assert x509.holds_private_key(ca.key_pem)
    assert not x509.holds_private_key(ca.pem)
    assert not x509.holds_private_key(ca.der)
