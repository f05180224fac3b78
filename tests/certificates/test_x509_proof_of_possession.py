"""verify_issued_by and verify_proof_of_possession: the uploader holds the CA's private key."""

from datetime import UTC, datetime

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from certificates import x509
from tests import pki

NOW = datetime.now(UTC)
CODE = "3f5a" * 16
ROLE = "verification certificate"
ROOT_SUBJECT = "CN=Test Root CA,O=IoT Hub Console Tests,C=CN"


def refused(ca: pki.Issued, verification: pki.Issued, code: str = CODE, now: datetime = NOW) -> str:
    with pytest.raises(x509.CertificateError) as caught:
        x509.verify_proof_of_possession(ca.certificate, verification.certificate, code, now)
    return caught.value.message


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.make_ca()


@pytest.fixture(scope="module")
def impostor_ca() -> pki.Issued:
    """The same subject as `ca` with a different key: what an attacker can make."""
    return pki.make_ca(key=pki.rsa_key(2048, slot=3))


def test_accepts_verification_cert_with_code_as_cn_signed_by_ca_key(ca):
    verification = pki.make_verification(CODE, ca)

    x509.verify_proof_of_possession(ca.certificate, verification.certificate, CODE, NOW)


def test_accepts_verification_cert_with_ec_key_signed_by_rsa_ca(ca):
    verification = pki.make_verification(CODE, ca, key=pki.ec_key())

    x509.verify_proof_of_possession(ca.certificate, verification.certificate, CODE, NOW)


def test_accepts_verification_cert_signed_by_ec_ca():
    ec_ca = pki.make_ca("Test EC CA", key=pki.ec_key(ec.SECP384R1()))
    verification = pki.make_verification(CODE, ec_ca, key=pki.ec_key())

    x509.verify_proof_of_possession(ec_ca.certificate, verification.certificate, CODE, NOW)


def test_accepts_intermediate_ca_verifying_its_own_verification_cert(ca):
    intermediate = pki.make_ca("Test Intermediate CA", key=pki.rsa_key(2048, slot=2), issuer=ca)
    verification = pki.make_verification(CODE, intermediate)

    x509.verify_proof_of_possession(intermediate.certificate, verification.certificate, CODE, NOW)


def test_refuses_verification_cert_signed_by_root_for_intermediate_ca(ca):
    intermediate = pki.make_ca("Test Intermediate CA", key=pki.rsa_key(2048, slot=2), issuer=ca)
    verification = pki.make_verification(CODE, ca)

    assert refused(intermediate, verification) == x509.ISSUER_NAME_MISMATCH.format(
        role=ROLE,
        issuer=ROOT_SUBJECT,
        subject="CN=Test Intermediate CA,O=IoT Hub Console Tests,C=CN",
    )


def test_refuses_verification_cert_with_wrong_cn(ca):
    verification = pki.make_verification("not-the-code", ca)

    assert refused(ca, verification) == x509.COMMON_NAME_MISMATCH.format(role=ROLE, name="not-the-code")
    assert refused(ca, verification) == (
        "The verification certificate's Common Name must be your current authentication code "
        '(shown on Add Certificate; DescribeAuthenticationCode in the API), but it is "not-the-code".'
    )


def test_refuses_verification_cert_whose_cn_differs_only_in_case(ca):
    verification = pki.make_verification(CODE.upper(), ca)

    assert refused(ca, verification) == x509.COMMON_NAME_MISMATCH.format(role=ROLE, name=CODE.upper())


def test_refuses_verification_cert_whose_cn_has_surrounding_spaces(ca):
    # A CN holds at most 64 characters, so a shorter code leaves room for the spaces.
    code = "3f5a" * 8
    verification = pki.make_verification(f" {code} ", ca)

    message = refused(ca, verification, code=code)

    assert message == x509.COMMON_NAME_MISMATCH.format(role=ROLE, name=f" {code} ")


def test_refuses_verification_cert_without_cn(ca):
    subject = cx509.Name([cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "No CN Inc")])
    verification = pki.make_certificate(subject, issuer=ca, key=pki.rsa_key(2048, slot=1))

    assert refused(ca, verification) == x509.NO_COMMON_NAME.format(role=ROLE)


def test_refuses_verification_cert_with_empty_code_expected(ca):
    # No current code (the service passes ""): nothing can match it.
    verification = pki.make_verification(CODE, ca)

    assert refused(ca, verification, code="") == x509.COMMON_NAME_MISMATCH.format(role=ROLE, name=CODE)


def test_rejects_verification_cert_signed_by_other_key_with_forged_issuer_name(ca):
    other = pki.make_ca("Another CA", key=pki.rsa_key(2048, slot=3))
    verification = pki.make_verification(CODE, other, issuer_name=ca.certificate.subject)

    assert refused(ca, verification) == x509.SIGNATURE_MISMATCH.format(role=ROLE)


def test_rejects_verification_cert_signed_by_impostor_ca_with_same_subject(ca, impostor_ca):
    verification = pki.make_verification(CODE, impostor_ca)

    assert refused(ca, verification) == x509.SIGNATURE_MISMATCH.format(role=ROLE)


def test_rejects_verification_cert_signed_by_ec_impostor_of_rsa_ca(ca):
    impostor = pki.make_ca(key=pki.ec_key())
    verification = pki.make_verification(CODE, impostor)

    assert refused(ca, verification) == x509.SIGNATURE_MISMATCH.format(role=ROLE)


def test_rejects_verification_cert_signed_by_rsa_impostor_of_ec_ca():
    ec_ca = pki.make_ca(key=pki.ec_key())
    impostor = pki.make_ca(key=pki.rsa_key(2048, slot=3))
    verification = pki.make_verification(CODE, impostor)

    assert refused(ec_ca, verification) == x509.SIGNATURE_MISMATCH.format(role=ROLE)


def test_rejects_verification_cert_signed_by_other_ec_key_for_ec_ca():
    ec_ca = pki.make_ca(key=pki.ec_key())
    impostor = pki.make_ca(key=pki.ec_key())
    verification = pki.make_verification(CODE, impostor)

    assert refused(ec_ca, verification) == x509.SIGNATURE_MISMATCH.format(role=ROLE)


def test_rejects_verification_cert_signed_by_ed25519_impostor_of_rsa_ca(ca):
    impostor = pki.make_certificate(ca.certificate.subject, key=ed25519.Ed25519PrivateKey.generate())
    verification = pki.make_certificate(pki.name(CODE), issuer=impostor, key=pki.ec_key())

    assert refused(ca, verification) == x509.SIGNATURE_MISMATCH.format(role=ROLE)


def test_rejects_verification_cert_whose_signature_was_tampered_with(ca):
    der = pki.with_tampered_signature(pki.make_verification(CODE, ca).der)
    verification = pki.Issued(x509.load_certificate(der), pki.rsa_key(2048, slot=1))

    assert refused(ca, verification) == x509.SIGNATURE_MISMATCH.format(role=ROLE)


def test_refuses_verification_cert_whose_issuer_name_differs(ca):
    other = pki.make_ca("Another CA", key=pki.rsa_key(2048, slot=3))
    verification = pki.make_verification(CODE, other)

    assert refused(ca, verification) == x509.ISSUER_NAME_MISMATCH.format(
        role=ROLE,
        issuer="CN=Another CA,O=IoT Hub Console Tests,C=CN",
        subject=ROOT_SUBJECT,
    )


def test_refuses_verification_cert_whose_issuer_differs_only_in_organization(ca):
    other = pki.make_ca(subject=pki.name("Test Root CA", organization="Someone Else"), key=ca.key)
    verification = pki.make_verification(CODE, other)

    assert refused(ca, verification) == x509.ISSUER_NAME_MISMATCH.format(
        role=ROLE,
        issuer="CN=Test Root CA,O=Someone Else,C=CN",
        subject=ROOT_SUBJECT,
    )


def test_refuses_sha1_signed_verification_cert_as_unknown_signature(ca):
    # cryptography cannot check a SHA-1 signature at all; this is not a key mismatch.
    verification = pki.with_weak_signature(pki.make_verification(CODE, ca), hashes.SHA1(), signer=ca)

    assert refused(ca, verification) == x509.UNKNOWN_SIGNATURE.format(role=ROLE)


def test_refuses_expired_verification_cert(ca):
    verification = pki.make_verification(
        CODE,
        ca,
        not_before=datetime(2020, 1, 1, tzinfo=UTC),
        not_after=datetime(2021, 3, 4, 5, 6, tzinfo=UTC),
    )

    assert refused(ca, verification) == x509.EXPIRED.format(role=ROLE, date="2021-03-04 05:06 UTC")
    assert refused(ca, verification) == "The verification certificate expired on 2021-03-04 05:06 UTC."


def test_refuses_not_yet_valid_verification_cert(ca):
    verification = pki.make_verification(
        CODE,
        ca,
        not_before=datetime(2099, 1, 1, tzinfo=UTC),
        not_after=datetime(2100, 1, 1, tzinfo=UTC),
    )

    assert refused(ca, verification) == x509.NOT_YET_VALID.format(role=ROLE, date="2099-01-01 00:00 UTC")


def test_checks_cn_before_signature(ca, impostor_ca):
    verification = pki.make_verification("not-the-code", impostor_ca)

    assert refused(ca, verification) == x509.COMMON_NAME_MISMATCH.format(role=ROLE, name="not-the-code")


def test_checks_signature_before_validity(ca, impostor_ca):
    verification = pki.make_verification(
        CODE,
        impostor_ca,
        not_before=datetime(2020, 1, 1, tzinfo=UTC),
        not_after=datetime(2021, 1, 1, tzinfo=UTC),
    )

    assert refused(ca, verification) == x509.SIGNATURE_MISMATCH.format(role=ROLE)


def test_verify_issued_by_accepts_certificate_signed_by_issuer(ca):
    leaf = pki.make_leaf("device-1", ca)

    x509.verify_issued_by(leaf.certificate, ca.certificate, "device certificate")


def test_verify_issued_by_accepts_intermediate_issued_by_root(ca):
    intermediate = pki.make_ca("Test Intermediate CA", key=pki.rsa_key(2048, slot=2), issuer=ca)

    x509.verify_issued_by(intermediate.certificate, ca.certificate, "CA certificate")


def test_verify_issued_by_names_the_role_in_its_message(ca, impostor_ca):
    leaf = pki.make_leaf("device-1", impostor_ca)

    with pytest.raises(x509.CertificateError) as caught:
        x509.verify_issued_by(leaf.certificate, ca.certificate, "device certificate")

    assert caught.value.message == x509.SIGNATURE_MISMATCH.format(role="device certificate")
    assert caught.value.message.startswith("The device certificate names this CA as its issuer")
