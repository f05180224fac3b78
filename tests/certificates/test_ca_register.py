"""Adding a CA certificate through the Add Certificate page: the forms it accepts."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from django.utils.html import escape

from certificates import x509
from certificates.models import AuthenticationCode, CACertificate
from tests import pki
from tests.certificate_console import ADD_URL, LIST_URL, current_code, post_add, upload

pytestmark = pytest.mark.django_db

ADDED = 'CA certificate "{name}" was added.'


def assert_registered(response, user, ca: pki.Issued, code: str, name: str = "my_root_ca") -> None:
    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    stored = CACertificate.objects.get(owner=user)
    assert stored.name == name
    assert stored.certificate_pem.encode() == ca.pem
    assert stored.fingerprint_sha256 == ca.certificate.fingerprint(hashes.SHA256()).hex()
    assert stored.serial_hex == x509.serial_hex(ca.certificate.serial_number)
    assert stored.subject == ca.certificate.subject.rfc4514_string()
    assert stored.issuer == ca.certificate.issuer.rfc4514_string()
    assert AuthenticationCode.objects.get(owner=user, code=code).used_at is not None


def add(client, user, ca: pki.Issued, ca_filename: str, ca_bytes: bytes, **kwargs):
    code = current_code(user)
    verification = pki.make_verification(code, ca)
    response = post_add(
        client,
        ca_file=upload(ca_filename, ca_bytes),
        verification_file=upload("verificationCert.crt", verification.pem),
        **kwargs,
    )
    return response, code


def test_accepts_pem_in_crt_and_lists_it_with_a_message(signed_in_client, user):
    ca = pki.make_ca()

    response, code = add(signed_in_client, user, ca, "ca.crt", ca.pem)

    assert_registered(response, user, ca, code)
    page = signed_in_client.get(LIST_URL)
    assert page.status_code == 200
    content = page.content.decode()
    assert escape(ADDED.format(name="my_root_ca")) in content
    assert f'href="/certificates/{CACertificate.objects.get().pk}/"' in content
    assert "Test Root CA" in content


def test_accepts_pem_in_pem_file(signed_in_client, user):
    ca = pki.make_ca()
    response, code = add(signed_in_client, user, ca, "ca.pem", ca.pem)
    assert_registered(response, user, ca, code)


def test_accepts_der_in_cer_file(signed_in_client, user):
    ca = pki.make_ca()
    response, code = add(signed_in_client, user, ca, "ca.cer", ca.der)
    assert_registered(response, user, ca, code)


def test_accepts_der_verification_certificate(signed_in_client, user):
    ca = pki.make_ca()
    code = current_code(user)
    verification = pki.make_verification(code, ca)
    response = post_add(
        signed_in_client,
        ca_file=upload("ca.crt", ca.pem),
        verification_file=upload("verificationCert.cer", verification.der),
    )
    assert_registered(response, user, ca, code)


def test_accepts_upper_case_extension(signed_in_client, user):
    ca = pki.make_ca()
    response, code = add(signed_in_client, user, ca, "CA.PEM", ca.pem)
    assert_registered(response, user, ca, code)


def test_accepts_pem_with_crlf_line_endings(signed_in_client, user):
    ca = pki.make_ca()
    crlf = ca.pem.replace(b"\n", b"\r\n")
    assert b"\r\n" in crlf
    response, code = add(signed_in_client, user, ca, "ca.pem", crlf)
    assert_registered(response, user, ca, code)


def test_accepts_pem_with_openssl_text_before_the_block(signed_in_client, user):
    ca = pki.make_ca()
    text = (
        b"Certificate:\n"
        b"    Data:\n"
        b"        Version: 3 (0x2)\n"
        b"        Serial Number:\n"
        b"            4a:1f:00:9c\n"
        b"        Signature Algorithm: sha256WithRSAEncryption\n"
        b"        Issuer: C=CN, O=IoT Hub Console Tests, CN=Test Root CA\n"
    )
    response, code = add(signed_in_client, user, ca, "ca.pem", text + ca.pem)
    assert_registered(response, user, ca, code)


def test_accepts_ec_p256_ca(signed_in_client, user):
    ca = pki.make_ca("EC Root CA", key=pki.ec_key())
    response, code = add(signed_in_client, user, ca, "ca.pem", ca.pem)
    assert_registered(response, user, ca, code)
    assert CACertificate.objects.get().key_description == "EC P-256 256"


def test_accepts_intermediate_ca_issued_by_another_ca(signed_in_client, user):
    root = pki.make_ca("Test Root CA", key=pki.ec_key())
    intermediate = pki.make_ca("Test Intermediate CA", key=pki.ec_key(), issuer=root)

    response, code = add(signed_in_client, user, intermediate, "intermediate.crt", intermediate.pem)

    assert_registered(response, user, intermediate, code)
    stored = CACertificate.objects.get()
    assert stored.issuer == root.certificate.subject.rfc4514_string()
    assert not stored.is_self_signed


def test_accepts_longest_name_with_every_allowed_character(signed_in_client, user):
    ca = pki.make_ca()
    name = "Ab9_-@" + "x" * 26
    assert len(name) == 32
    response, code = add(signed_in_client, user, ca, "ca.pem", ca.pem, name=name)
    assert_registered(response, user, ca, code, name=name)


def test_add_page_has_the_labelled_fields_and_save(signed_in_client, user):
    response = signed_in_client.get(ADD_URL)

    assert response.status_code == 200
    content = response.content.decode()
    for label in (
        "CA Certificate Name",
        "Upload CA Certificate",
        "Authentication Code",
        "Upload Certificate",
    ):
        assert label in content
    assert ">Save</button>" in content
    assert CACertificate.objects.count() == 0
