"""Files the Add Certificate page refuses, each with its own message on its own field.

Nothing is stored and the authentication code stays unused, so the user can fix the
file and submit again with the same verification certificate.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certificates import x509
from certificates.forms import WRONG_EXTENSION
from certificates.models import CACertificate
from certificates.validators import FILE_TOO_LARGE
from tests import pki
from tests.certificate_console import (
    assert_code_unused,
    assert_field_error,
    current_code,
    post_add,
    upload,
)

pytestmark = pytest.mark.django_db

CA_ROLE = "CA certificate"


def submit(client, user, *, ca_file=None, verification_file=None):
    """Post a valid pair, with either file replaced by a bad one; returns (response, code)."""
    code = current_code(user)
    ca = pki.make_ca()
    verification = pki.make_verification(code, ca)
    response = post_add(
        client,
        ca_file=ca_file or upload("ca.pem", ca.pem),
        verification_file=verification_file or upload("verificationCert.crt", verification.pem),
    )
    return response, code


def bad_files() -> list:
    ca = pki.make_ca()
    other = pki.make_ca("Second CA")
    der_key = ca.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return [
        pytest.param("ca.txt", ca.pem, WRONG_EXTENSION.format(filename="ca.txt"), id="txt"),
        pytest.param("ca.key", ca.pem, WRONG_EXTENSION.format(filename="ca.key"), id="key"),
        pytest.param("ca", ca.pem, WRONG_EXTENSION.format(filename="ca"), id="no-extension"),
        pytest.param("ca.pem", b"", x509.EMPTY_FILE, id="empty"),
        pytest.param(
            "ca.pem",
            ca.pem + b"#" * (64 * 1024),
            FILE_TOO_LARGE.format(size=len(ca.pem) + 64 * 1024),
            id="over-64-KiB",
        ),
        pytest.param("ca.pem", os.urandom(1500), x509.NOT_A_CERTIFICATE, id="random-bytes"),
        pytest.param("ca.pem", b"   \n\r\n  ", x509.EMPTY_FILE, id="only-whitespace"),
        pytest.param("ca.key.pem", ca.key_pem, x509.PRIVATE_KEY_REFUSED, id="pem-private-key"),
        pytest.param("ca.cer", der_key, x509.PRIVATE_KEY_REFUSED, id="der-private-key"),
        pytest.param("ca.pem", ca.pem + ca.key_pem, x509.PRIVATE_KEY_REFUSED, id="certificate-and-key"),
        pytest.param("ca.pem", ca.key_pem + ca.pem, x509.PRIVATE_KEY_REFUSED, id="key-and-certificate"),
        pytest.param(
            "chain.pem",
            ca.pem + other.pem,
            x509.SEVERAL_CERTIFICATES.format(count=2),
            id="two-certificates",
        ),
    ]


@pytest.mark.parametrize(("filename", "data", "message"), bad_files())
def test_refuses_bad_ca_file(signed_in_client, user, filename, data, message):
    response, code = submit(signed_in_client, user, ca_file=upload(filename, data))

    assert_field_error(response, "ca_certificate", message)
    assert "verification_certificate" not in response.context["form"].errors
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


@pytest.mark.parametrize(("filename", "data", "message"), bad_files())
def test_refuses_bad_verification_file(signed_in_client, user, filename, data, message):
    response, code = submit(signed_in_client, user, verification_file=upload(filename, data))

    assert_field_error(response, "verification_certificate", message)
    assert "ca_certificate" not in response.context["form"].errors
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_private_key_message_warns_never_to_share_it():
    assert "Never upload or share a private key" in x509.PRIVATE_KEY_REFUSED


def test_refuses_missing_files(signed_in_client, user):
    code = current_code(user)

    response = signed_in_client.post("/certificates/add/", {"name": "my_root_ca"})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["ca_certificate"] == ["This field is required."]
    assert errors["verification_certificate"] == ["This field is required."]
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def submit_ca(client, user, ca: pki.Issued):
    """Post `ca` with a verification certificate it really signed for the current code."""
    code = current_code(user)
    verification = pki.make_verification(code, ca)
    response = post_add(
        client,
        ca_file=upload("ca.pem", ca.pem),
        verification_file=upload("verificationCert.crt", verification.pem),
    )
    return response, code


def test_refuses_leaf_certificate_as_ca(signed_in_client, user):
    root = pki.make_ca()
    leaf = pki.make_leaf("device-1", root, key=pki.ec_key())

    response, code = submit_ca(signed_in_client, user, leaf)

    assert_field_error(response, "ca_certificate", x509.NOT_A_CA)
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_ca_without_key_cert_sign(signed_in_client, user):
    ca = pki.make_ca(key_cert_sign=False)

    response, code = submit_ca(signed_in_client, user, ca)

    assert_field_error(response, "ca_certificate", x509.CA_WITHOUT_KEY_CERT_SIGN)
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_expired_ca(signed_in_client, user):
    now = datetime.now(UTC)
    ca = pki.make_ca(not_before=now - timedelta(days=400), not_after=now - timedelta(days=1))

    response, code = submit_ca(signed_in_client, user, ca)

    message = x509.EXPIRED.format(role=CA_ROLE, date=_format(ca.certificate.not_valid_after_utc))
    assert_field_error(response, "ca_certificate", message)
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_ca_not_yet_valid(signed_in_client, user):
    now = datetime.now(UTC)
    ca = pki.make_ca(not_before=now + timedelta(days=2), not_after=now + timedelta(days=400))

    response, code = submit_ca(signed_in_client, user, ca)

    message = x509.NOT_YET_VALID.format(role=CA_ROLE, date=_format(ca.certificate.not_valid_before_utc))
    assert_field_error(response, "ca_certificate", message)
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_rsa_1024_ca(signed_in_client, user):
    ca = pki.make_ca(key=pki.rsa_key(1024))

    response, code = submit_ca(signed_in_client, user, ca)

    assert_field_error(response, "ca_certificate", x509.WEAK_RSA_KEY.format(role=CA_ROLE, bits=1024))
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_sha1_signed_ca(signed_in_client, user):
    ca = pki.make_sha1_ca()

    response, code = submit_ca(signed_in_client, user, ca)

    assert_field_error(response, "ca_certificate", x509.WEAK_SIGNATURE.format(role=CA_ROLE, algorithm="SHA1"))
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_ca_on_unsupported_curve(signed_in_client, user):
    ca = pki.make_ca(key=pki.ec_key(ec.SECP256K1()))

    response, code = submit_ca(signed_in_client, user, ca)

    assert_field_error(
        response,
        "ca_certificate",
        x509.UNSUPPORTED_CURVE.format(role=CA_ROLE, curve="secp256k1"),
    )
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)
