"""Certificates that load but break assumptions further on get a clear refusal, never a 500."""

from __future__ import annotations

import pytest
from cryptography import x509 as cx509

from certificates import services, x509
from certificates.models import CACertificate
from tests import pki
from tests.certificate_console import (
    assert_code_unused,
    assert_field_error,
    current_code,
    post_add,
    upload,
)

pytestmark = pytest.mark.django_db


def test_accepts_ca_with_20_byte_serial(signed_in_client, user):
    ca = pki.make_ca_with_long_serial(20)
    code = current_code(user)

    response = post_add(
        signed_in_client,
        ca_file=upload("ca.pem", ca.pem),
        verification_file=upload("v.pem", pki.make_verification(code, ca).pem),
    )

    assert response.status_code == 302
    stored = CACertificate.objects.get(owner=user)
    assert len(stored.serial_hex) == 40
    assert stored.serial_hex == x509.serial_hex(ca.certificate.serial_number)


def test_refuses_ca_with_serial_longer_than_20_bytes(signed_in_client, user):
    ca = pki.make_ca_with_long_serial(40)
    code = current_code(user)

    response = post_add(
        signed_in_client,
        ca_file=upload("ca.pem", ca.pem),
        verification_file=upload("v.pem", pki.make_verification(code, ca).pem),
    )

    assert_field_error(response, "ca_certificate", x509.SERIAL_TOO_LONG.format(octets=40))
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_service_refuses_long_serial_with_cacertinvalid(user):
    ca = pki.make_ca_with_long_serial(21)
    code = current_code(user)

    with pytest.raises(services.ServiceError) as refused:
        services.register_ca_certificate(
            owner=user,
            name="long",
            certificate_data=ca.der,
            verification_data=pki.make_verification(code, ca).pem,
        )

    assert refused.value.code == "InvalidParameterValue.CACertInvalid"
    assert refused.value.message == x509.SERIAL_TOO_LONG.format(octets=21)
    assert CACertificate.objects.count() == 0


def test_helper_makes_a_certificate_whose_subject_cannot_be_read():
    data = pki.with_undecodable_common_name(pki.make_ca(key=pki.ec_key()))
    certificate = cx509.load_der_x509_certificate(data)
    with pytest.raises(ValueError):
        certificate.subject  # noqa: B018


def test_refuses_ca_with_undecodable_subject(signed_in_client, user):
    ca = pki.make_ca(key=pki.ec_key())
    code = current_code(user)

    response = post_add(
        signed_in_client,
        ca_file=upload("ca.cer", pki.with_undecodable_common_name(ca)),
        verification_file=upload("v.pem", pki.make_verification(code, ca).pem),
    )

    assert_field_error(response, "ca_certificate", x509.UNREADABLE_NAME)
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_verification_cert_with_undecodable_subject(signed_in_client, user):
    ca = pki.make_ca(key=pki.ec_key())
    code = current_code(user)
    verification = pki.make_verification(code, ca)

    response = post_add(
        signed_in_client,
        ca_file=upload("ca.pem", ca.pem),
        verification_file=upload("v.cer", pki.with_undecodable_common_name(verification)),
    )

    assert_field_error(response, "verification_certificate", x509.UNREADABLE_NAME)
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)
