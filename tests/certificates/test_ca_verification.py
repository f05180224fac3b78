"""The verification certificate must prove possession of the CA's key for the current code.

Each refusal names what is wrong on the `Upload Certificate` field, stores nothing and
leaves the current authentication code unused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certificates import services, x509
from certificates.models import AuthenticationCode, CACertificate
from tests import pki
from tests.certificate_console import (
    assert_code_unused,
    assert_field_error,
    current_code,
    post_add,
    post_add_proven,
    upload,
)

pytestmark = pytest.mark.django_db

ROLE = "verification certificate"
FIELD = "verification_certificate"


def submit(client, ca: pki.Issued, verification: pki.Issued, name: str = "my_root_ca"):
    return post_add(
        client,
        name=name,
        ca_file=upload("ca.pem", ca.pem),
        verification_file=upload("verificationCert.crt", verification.pem),
    )


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def test_refuses_verification_cert_with_wrong_common_name(signed_in_client, user):
    code = current_code(user)
    ca = pki.make_ca()
    verification = pki.make_verification("not-the-code", ca)

    response = submit(signed_in_client, ca, verification)

    assert_field_error(response, FIELD, x509.COMMON_NAME_MISMATCH.format(role=ROLE, name="not-the-code"))
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_verification_cert_with_code_in_other_case(signed_in_client, user):
    code = current_code(user)
    ca = pki.make_ca()
    verification = pki.make_verification(code.upper(), ca)

    response = submit(signed_in_client, ca, verification)

    assert_field_error(response, FIELD, x509.COMMON_NAME_MISMATCH.format(role=ROLE, name=code.upper()))
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_verification_cert_made_for_another_accounts_code(signed_in_client, user, other_user):
    code = current_code(user)
    others_code = current_code(other_user)
    ca = pki.make_ca()
    verification = pki.make_verification(others_code, ca)

    response = submit(signed_in_client, ca, verification)

    assert_field_error(response, FIELD, x509.COMMON_NAME_MISMATCH.format(role=ROLE, name=others_code))
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)
    assert_code_unused(other_user, others_code)


def test_refuses_verification_cert_signed_by_other_key(signed_in_client, user):
    code = current_code(user)
    ca = pki.make_ca(key=pki.ec_key())
    impostor = pki.make_ca(key=pki.ec_key())  # same subject name, different key
    assert impostor.certificate.subject == ca.certificate.subject
    verification = pki.make_leaf(code, impostor, issuer_name=ca.certificate.subject)

    response = submit(signed_in_client, ca, verification)

    assert_field_error(response, FIELD, x509.SIGNATURE_MISMATCH.format(role=ROLE))
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_verification_cert_signed_by_other_kind_of_key(signed_in_client, user):
    code = current_code(user)
    ca = pki.make_ca()  # RSA
    impostor = pki.make_ca(key=pki.ec_key())  # same subject name, an EC key
    verification = pki.make_leaf(code, impostor, issuer_name=ca.certificate.subject)

    response = submit(signed_in_client, ca, verification)

    assert_field_error(response, FIELD, x509.SIGNATURE_MISMATCH.format(role=ROLE))
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_verification_cert_issued_by_another_ca(signed_in_client, user):
    code = current_code(user)
    ca = pki.make_ca("Test Root CA", key=pki.ec_key())
    other = pki.make_ca("Someone Else CA", key=pki.ec_key())
    verification = pki.make_verification(code, other)

    response = submit(signed_in_client, ca, verification)

    assert_field_error(
        response,
        FIELD,
        x509.ISSUER_NAME_MISMATCH.format(
            role=ROLE,
            issuer=other.certificate.subject.rfc4514_string(),
            subject=ca.certificate.subject.rfc4514_string(),
        ),
    )
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_expired_verification_cert(signed_in_client, user):
    code = current_code(user)
    ca = pki.make_ca()
    now = datetime.now(UTC)
    verification = pki.make_verification(
        code, ca, not_before=now - timedelta(days=10), not_after=now - timedelta(hours=1)
    )

    response = submit(signed_in_client, ca, verification)

    message = x509.EXPIRED.format(role=ROLE, date=_format(verification.certificate.not_valid_after_utc))
    assert_field_error(response, FIELD, message)
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_verification_cert_not_yet_valid(signed_in_client, user):
    code = current_code(user)
    ca = pki.make_ca()
    now = datetime.now(UTC)
    verification = pki.make_verification(
        code, ca, not_before=now + timedelta(days=1), not_after=now + timedelta(days=300)
    )

    response = submit(signed_in_client, ca, verification)

    message = x509.NOT_YET_VALID.format(
        role=ROLE, date=_format(verification.certificate.not_valid_before_utc)
    )
    assert_field_error(response, FIELD, message)
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)


def test_refuses_verification_cert_for_code_already_used(signed_in_client, user):
    first = pki.make_ca("First CA", key=pki.ec_key())
    used_code = current_code(user)
    assert post_add_proven(signed_in_client, user, first, name="first").status_code == 302
    new_code = current_code(user)
    assert new_code != used_code
    second = pki.make_ca("Second CA", key=pki.ec_key())

    response = submit(signed_in_client, second, pki.make_verification(used_code, second), name="second")

    assert_field_error(response, FIELD, services.CODE_ALREADY_USED)
    assert list(CACertificate.objects.values_list("name", flat=True)) == ["first"]
    assert_code_unused(user, new_code)


def test_refuses_verification_cert_for_expired_code(signed_in_client, user):
    old_code = current_code(user)
    AuthenticationCode.objects.filter(code=old_code).update(created=datetime.now(UTC) - timedelta(hours=25))
    expired = AuthenticationCode.objects.get(code=old_code)
    ca = pki.make_ca()

    response = submit(signed_in_client, ca, pki.make_verification(old_code, ca))

    date = expired.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    assert_field_error(response, FIELD, services.CODE_EXPIRED.format(date=date))
    assert CACertificate.objects.count() == 0
    expired.refresh_from_db()
    assert expired.used_at is None
    # the page now shows a fresh code, which is still unused
    shown = response.context["authentication_code"].code
    assert shown != old_code
    assert_code_unused(user, shown)


def test_refuses_verification_cert_for_replaced_code(signed_in_client, user):
    old_code = current_code(user)
    services.regenerate_authentication_code(owner=user)
    new_code = current_code(user)
    ca = pki.make_ca()

    response = submit(signed_in_client, ca, pki.make_verification(old_code, ca))

    assert_field_error(response, FIELD, services.CODE_REPLACED)
    assert CACertificate.objects.count() == 0
    assert AuthenticationCode.objects.get(code=old_code).used_at is None
    assert_code_unused(user, new_code)


def test_refuses_ca_certificate_itself_as_verification_cert(signed_in_client, user):
    code = current_code(user)
    ca = pki.make_ca()

    response = submit(signed_in_client, ca, ca)

    assert_field_error(response, FIELD, x509.COMMON_NAME_MISMATCH.format(role=ROLE, name="Test Root CA"))
    assert CACertificate.objects.count() == 0
    assert_code_unused(user, code)
