"""Update replaces a CA's certificate (a renewal) after a fresh proof of possession."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from django.utils.html import escape

from certificates import services, x509
from certificates.forms import WRONG_EXTENSION
from certificates.models import AuthenticationCode, CACertificate
from products.models import Product
from tests import pki
from tests.certificate_console import (
    assert_code_unused,
    assert_field_error,
    current_code,
    register,
    update_url,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def key():
    return pki.ec_key()


@pytest.fixture
def old(key):
    return pki.make_ca("Renewed Root CA", key=key)


@pytest.fixture
def stored(user, old):
    return register(user, old, "renewed_ca")


def post_update(client, stored, ca: pki.Issued, verification: pki.Issued, **kwargs):
    return client.post(
        update_url(stored),
        {
            "ca_certificate": upload("ca.pem", ca.pem),
            "verification_certificate": upload("verificationCert.crt", verification.pem),
        },
        **kwargs,
    )


def fingerprint(issued: pki.Issued) -> str:
    return issued.certificate.fingerprint(hashes.SHA256()).hex()


def test_update_page_shows_code_and_file_fields(signed_in_client, user, stored):
    response = signed_in_client.get(update_url(stored))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Upload CA Certificate" in content
    assert "Upload Certificate" in content
    assert f'value="{current_code(user)}" readonly' in content
    assert "CA Certificate Name" not in content


def test_update_with_fresh_proof_replaces_certificate(signed_in_client, user, stored, key, old):
    renewed = pki.make_ca("Renewed Root CA", key=key, not_after=datetime.now(UTC) + timedelta(days=3650))
    code = current_code(user)
    product = Product.objects.create(owner=user, name="p1", ca_certificate=stored)

    response = post_update(
        signed_in_client, stored, renewed, pki.make_verification(code, renewed), follow=True
    )

    assert response.redirect_chain == [(f"/certificates/{stored.pk}/", 302)]
    assert escape('CA certificate "renewed_ca" was updated.') in response.content.decode()
    updated = CACertificate.objects.get(pk=stored.pk)
    assert CACertificate.objects.count() == 1
    assert updated.name == "renewed_ca"
    assert updated.fingerprint_sha256 == fingerprint(renewed) != fingerprint(old)
    assert updated.certificate_pem.encode() == renewed.pem
    assert updated.serial_hex == x509.serial_hex(renewed.certificate.serial_number)
    assert updated.not_after == renewed.certificate.not_valid_after_utc
    assert AuthenticationCode.objects.get(code=code).used_at is not None
    product.refresh_from_db()
    assert product.ca_certificate_id == stored.pk


def test_update_with_bad_verification_keeps_old_certificate(signed_in_client, user, stored, key, old):
    renewed = pki.make_ca("Renewed Root CA", key=key)
    code = current_code(user)
    impostor = pki.make_ca("Renewed Root CA", key=pki.ec_key())
    forged = pki.make_leaf(code, impostor, issuer_name=renewed.certificate.subject)

    response = post_update(signed_in_client, stored, renewed, forged)

    assert_field_error(
        response,
        "verification_certificate",
        x509.SIGNATURE_MISMATCH.format(role="verification certificate"),
    )
    kept = CACertificate.objects.get(pk=stored.pk)
    assert kept.fingerprint_sha256 == fingerprint(old)
    assert kept.certificate_pem.encode() == old.pem
    assert_code_unused(user, code)


def test_update_with_used_code_keeps_old_certificate(signed_in_client, user, stored, key, old):
    used = AuthenticationCode.objects.filter(owner=user).exclude(used_at=None).get().code
    code = current_code(user)
    renewed = pki.make_ca("Renewed Root CA", key=key)

    response = post_update(signed_in_client, stored, renewed, pki.make_verification(used, renewed))

    assert_field_error(response, "verification_certificate", services.CODE_ALREADY_USED)
    assert CACertificate.objects.get(pk=stored.pk).fingerprint_sha256 == fingerprint(old)
    assert_code_unused(user, code)


def test_update_with_expired_ca_keeps_old_certificate(signed_in_client, user, stored, key, old):
    now = datetime.now(UTC)
    expired = pki.make_ca(
        "Renewed Root CA",
        key=key,
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    code = current_code(user)

    response = post_update(signed_in_client, stored, expired, pki.make_verification(code, expired))

    message = x509.EXPIRED.format(
        role="CA certificate",
        date=expired.certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC"),
    )
    assert_field_error(response, "ca_certificate", message)
    assert CACertificate.objects.get(pk=stored.pk).fingerprint_sha256 == fingerprint(old)
    assert_code_unused(user, code)


def test_update_to_a_ca_registered_under_another_name_is_refused(signed_in_client, user, stored, old):
    other = pki.make_ca("Other Root CA", key=pki.ec_key())
    register(user, other, "other_ca")
    code = current_code(user)

    response = post_update(signed_in_client, stored, other, pki.make_verification(code, other))

    assert_field_error(response, "ca_certificate", services.ALREADY_REGISTERED.format(name="other_ca"))
    assert CACertificate.objects.get(pk=stored.pk).fingerprint_sha256 == fingerprint(old)
    assert CACertificate.objects.count() == 2
    assert_code_unused(user, code)


def test_update_with_wrong_extension_keeps_old_certificate(signed_in_client, user, stored, key, old):
    renewed = pki.make_ca("Renewed Root CA", key=key)
    code = current_code(user)

    response = signed_in_client.post(
        update_url(stored),
        {
            "ca_certificate": upload("ca.txt", renewed.pem),
            "verification_certificate": upload("v.crt", pki.make_verification(code, renewed).pem),
        },
    )

    assert_field_error(response, "ca_certificate", WRONG_EXTENSION.format(filename="ca.txt"))
    assert CACertificate.objects.get(pk=stored.pk).fingerprint_sha256 == fingerprint(old)
    assert_code_unused(user, code)


def test_bound_ca_can_be_renewed_with_the_same_key(signed_in_client, user, stored, key):
    Product.objects.create(owner=user, name="bound_product", ca_certificate=stored)
    renewed = pki.make_ca("Renewed Root CA", key=key, not_after=datetime.now(UTC) + timedelta(days=3000))

    response = post_update(
        signed_in_client, stored, renewed, pki.make_verification(current_code(user), renewed)
    )

    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.fingerprint_sha256 == fingerprint(renewed)


def test_bound_ca_cannot_be_replaced_by_an_unrelated_ca(signed_in_client, user, stored, old):
    Product.objects.create(owner=user, name="bound_product", ca_certificate=stored)
    unrelated = pki.make_ca("Unrelated Root CA", key=pki.ec_key())
    code = current_code(user)

    response = post_update(signed_in_client, stored, unrelated, pki.make_verification(code, unrelated))

    message = services.RENEWAL_MUST_KEEP_KEY.format(name="renewed_ca", products="bound_product")
    assert_field_error(response, "ca_certificate", message)
    stored.refresh_from_db()
    assert stored.fingerprint_sha256 == fingerprint(old)
    assert_code_unused(user, code)
