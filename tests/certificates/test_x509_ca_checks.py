"""check_ca_certificate: the CAs the console will trust to issue device certificates."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtensionOID

from certificates import x509
from tests import pki

NOW = datetime.now(UTC)
ROLE = "CA certificate"


def refused(issued: pki.Issued, now: datetime = NOW) -> str:
    with pytest.raises(x509.CertificateError) as caught:
        x509.check_ca_certificate(issued.certificate, now)
    return caught.value.message


def test_accepts_self_signed_rsa_2048_sha256_ca():
    x509.check_ca_certificate(pki.make_ca(key=pki.rsa_key(2048)).certificate, NOW)


def test_accepts_rsa_4096_ca():
    x509.check_ca_certificate(pki.make_ca(key=pki.rsa_key(4096)).certificate, NOW)


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()], ids=lambda c: c.name)
def test_accepts_ec_ca_on_nist_curve(curve):
    x509.check_ca_certificate(pki.make_ca(key=pki.ec_key(curve)).certificate, NOW)


def test_accepts_ca_signed_with_sha384():
    x509.check_ca_certificate(pki.make_ca(hash_algorithm=hashes.SHA384()).certificate, NOW)


def test_accepts_intermediate_ca_issued_by_another_ca():
    root = pki.make_ca()
    intermediate = pki.make_ca("Test Intermediate CA", key=pki.rsa_key(2048, slot=2), issuer=root)

    x509.check_ca_certificate(intermediate.certificate, NOW)


def test_accepts_ca_without_key_usage_extension():
    issued = pki.make_certificate(
        pki.name("Old Style CA"), extensions=[cx509.BasicConstraints(ca=True, path_length=None)]
    )

    x509.check_ca_certificate(issued.certificate, NOW)


def test_accepts_ca_on_first_and_last_moment_of_validity():
    not_before = datetime(2025, 1, 1, tzinfo=UTC)
    not_after = datetime(2030, 1, 1, tzinfo=UTC)
    ca = pki.make_ca(not_before=not_before, not_after=not_after)

    x509.check_ca_certificate(ca.certificate, not_before)
    x509.check_ca_certificate(ca.certificate, not_after)


def test_refuses_leaf_without_basic_constraints():
    assert refused(pki.make_certificate(pki.name("device-1"))) == x509.NOT_A_CA


def test_refuses_leaf_issued_by_a_ca():
    assert refused(pki.make_leaf("device-1", pki.make_ca())) == x509.NOT_A_CA


def test_refuses_ca_false():
    assert refused(pki.make_ca(is_ca=False)) == x509.NOT_A_CA


def test_refuses_ca_whose_key_usage_lacks_key_cert_sign():
    assert refused(pki.make_ca(key_cert_sign=False)) == x509.CA_WITHOUT_KEY_CERT_SIGN


def test_refuses_ca_with_malformed_basic_constraints():
    garbage = cx509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x01\x02")
    issued = pki.make_certificate(pki.name("Broken CA"), extensions=[garbage])

    assert refused(issued) == x509.MALFORMED_EXTENSIONS


def test_refuses_expired_ca():
    ca = pki.make_ca(
        not_before=datetime(2020, 1, 1, tzinfo=UTC), not_after=datetime(2021, 6, 30, 12, 0, tzinfo=UTC)
    )

    assert refused(ca) == x509.EXPIRED.format(role=ROLE, date="2021-06-30 12:00 UTC")
    assert refused(ca) == "The CA certificate expired on 2021-06-30 12:00 UTC."


def test_refuses_ca_one_second_after_it_expires():
    not_after = datetime(2030, 1, 1, tzinfo=UTC)
    ca = pki.make_ca(not_before=datetime(2025, 1, 1, tzinfo=UTC), not_after=not_after)

    message = refused(ca, now=not_after + timedelta(seconds=1))

    assert message == x509.EXPIRED.format(role=ROLE, date="2030-01-01 00:00 UTC")


def test_refuses_not_yet_valid_ca():
    ca = pki.make_ca(
        not_before=datetime(2099, 1, 2, 3, 4, tzinfo=UTC), not_after=datetime(2100, 1, 1, tzinfo=UTC)
    )

    assert refused(ca) == x509.NOT_YET_VALID.format(role=ROLE, date="2099-01-02 03:04 UTC")
    assert refused(ca) == "The CA certificate is not valid until 2099-01-02 03:04 UTC."


def test_refuses_rsa_1024_ca():
    assert refused(pki.make_ca(key=pki.rsa_key(1024))) == x509.WEAK_RSA_KEY.format(role=ROLE, bits=1024)


@pytest.mark.parametrize("curve", [ec.SECP224R1(), ec.SECP256K1()], ids=lambda c: c.name)
def test_refuses_ca_on_unaccepted_curve(curve):
    message = refused(pki.make_ca(key=pki.ec_key(curve)))

    assert message == x509.UNSUPPORTED_CURVE.format(role=ROLE, curve=curve.name)


def test_refuses_ed25519_ca():
    issued = pki.make_certificate(
        pki.name("Ed25519 CA"),
        key=ed25519.Ed25519PrivateKey.generate(),
        extensions=[cx509.BasicConstraints(ca=True, path_length=None)],
    )

    assert refused(issued) == x509.UNSUPPORTED_KEY.format(role=ROLE, kind="Ed25519")


def test_refuses_sha1_signed_ca():
    assert refused(pki.make_sha1_ca()) == x509.WEAK_SIGNATURE.format(role=ROLE, algorithm="SHA1")


def test_refuses_md5_signed_ca():
    # cryptography will not sign with MD5 itself; with_weak_signature re-signs by hand.
    md5_ca = pki.with_weak_signature(pki.make_ca("MD5 Root CA"), hashes.MD5())

    assert refused(md5_ca) == x509.WEAK_SIGNATURE.format(role=ROLE, algorithm="MD5")


def test_refuses_not_a_ca_before_looking_at_validity():
    leaf = pki.make_leaf(
        "device-1",
        pki.make_ca(),
        not_before=datetime(2020, 1, 1, tzinfo=UTC),
        not_after=datetime(2021, 1, 1, tzinfo=UTC),
    )

    assert refused(leaf) == x509.NOT_A_CA
