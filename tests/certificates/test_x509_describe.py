"""describe_certificate: what the console shows and stores about a certificate."""

import hashlib
from datetime import UTC, datetime

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from certificates import x509
from tests import pki

ROOT_SUBJECT = "CN=Test Root CA,O=IoT Hub Console Tests,C=CN"


def test_describes_subject_common_name_and_issuer_of_self_signed_ca():
    info = x509.describe_certificate(pki.make_ca().certificate)

    assert info.subject == ROOT_SUBJECT
    assert info.common_name == "Test Root CA"
    assert info.issuer == ROOT_SUBJECT


def test_describes_issuer_of_intermediate_ca_as_root_subject():
    root = pki.make_ca()
    intermediate = pki.make_ca("Test Intermediate CA", key=pki.rsa_key(2048, slot=2), issuer=root)

    info = x509.describe_certificate(intermediate.certificate)

    assert info.subject == "CN=Test Intermediate CA,O=IoT Hub Console Tests,C=CN"
    assert info.common_name == "Test Intermediate CA"
    assert info.issuer == ROOT_SUBJECT


def test_describes_subject_without_common_name_as_empty_common_name():
    subject = cx509.Name([cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "No CN Inc")])
    info = x509.describe_certificate(pki.make_certificate(subject).certificate)

    assert info.subject == "O=No CN Inc"
    assert info.common_name == ""


def test_describes_serial_as_uppercase_hex_without_leading_zeros():
    issued = pki.make_certificate(pki.name("serial"), serial=0x0ABCDEF0123456789)

    assert x509.describe_certificate(issued.certificate).serial_hex == "ABCDEF0123456789"


def test_describes_random_serial_as_uppercase_hex_of_the_serial_number():
    certificate = pki.make_ca().certificate
    serial_hex = x509.describe_certificate(certificate).serial_hex

    assert serial_hex == serial_hex.upper()
    assert int(serial_hex, 16) == certificate.serial_number


def test_describes_validity_as_utc_datetimes():
    not_before = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    not_after = datetime(2035, 6, 7, 8, 9, 10, tzinfo=UTC)
    ca = pki.make_ca(not_before=not_before, not_after=not_after)

    info = x509.describe_certificate(ca.certificate)

    assert info.not_before == not_before
    assert info.not_after == not_after
    assert info.not_before.tzinfo is not None


def test_describes_sha256_fingerprint_as_cryptography_computes_it():
    ca = pki.make_ca()

    info = x509.describe_certificate(ca.certificate)

    assert info.fingerprint_sha256 == ca.certificate.fingerprint(hashes.SHA256()).hex()
    assert info.fingerprint_sha256 == hashlib.sha256(ca.der).hexdigest()
    assert len(info.fingerprint_sha256) == 64


def test_fingerprint_is_the_same_whether_loaded_from_pem_or_der():
    ca = pki.make_ca()

    from_pem = x509.describe_certificate(x509.load_certificate(ca.pem))
    from_der = x509.describe_certificate(x509.load_certificate(ca.der))

    assert from_pem.fingerprint_sha256 == from_der.fingerprint_sha256


@pytest.mark.parametrize(
    ("make_key", "key_type", "key_size", "description"),
    [
        (lambda: pki.rsa_key(2048), "RSA", 2048, "RSA 2048"),
        (lambda: pki.rsa_key(4096), "RSA", 4096, "RSA 4096"),
        (lambda: pki.ec_key(ec.SECP256R1()), "EC P-256", 256, "EC P-256 256"),
        (lambda: pki.ec_key(ec.SECP384R1()), "EC P-384", 384, "EC P-384 384"),
        (lambda: pki.ec_key(ec.SECP521R1()), "EC P-521", 521, "EC P-521 521"),
    ],
    ids=["rsa-2048", "rsa-4096", "ec-p256", "ec-p384", "ec-p521"],
)
def test_describes_key_type_and_size(make_key, key_type, key_size, description):
    info = x509.describe_certificate(pki.make_ca(key=make_key()).certificate)

    assert (info.key_type, info.key_size) == (key_type, key_size)
    assert info.key_description == description


def test_describes_unaccepted_curve_by_its_openssl_name():
    info = x509.describe_certificate(pki.make_ca(key=pki.ec_key(ec.SECP256K1())).certificate)

    assert (info.key_type, info.key_size) == ("EC secp256k1", 256)


def test_describes_ed25519_key():
    issued = pki.make_certificate(pki.name("ed"), key=ed25519.Ed25519PrivateKey.generate())

    info = x509.describe_certificate(issued.certificate)

    assert (info.key_type, info.key_size) == ("Ed25519", 256)
    assert info.signature_hash == "none"


@pytest.mark.parametrize(
    ("algorithm", "name"),
    [(hashes.SHA256(), "sha256"), (hashes.SHA384(), "sha384"), (hashes.SHA512(), "sha512")],
)
def test_describes_signature_hash(algorithm, name):
    info = x509.describe_certificate(pki.make_ca(hash_algorithm=algorithm).certificate)

    assert info.signature_hash == name


def test_describes_sha1_signature_hash():
    assert x509.describe_certificate(pki.make_sha1_ca().certificate).signature_hash == "sha1"


def test_describes_md5_signature_hash():
    md5_ca = pki.with_weak_signature(pki.make_ca("MD5 Root CA"), hashes.MD5())

    assert x509.describe_certificate(md5_ca.certificate).signature_hash == "md5"


def test_a_ca_certificate_is_a_ca():
    assert x509.is_ca(pki.make_ca().certificate) is True


def test_a_leaf_certificate_is_not_a_ca():
    leaf = pki.make_leaf("device-1", pki.make_ca())

    assert x509.is_ca(leaf.certificate) is False


def test_a_certificate_without_basic_constraints_is_not_a_ca():
    issued = pki.make_certificate(pki.name("no-extensions"))

    assert x509.is_ca(issued.certificate) is False


def test_describes_pem_that_loads_back_to_the_same_certificate():
    ca = pki.make_ca()

    info = x509.describe_certificate(ca.certificate)

    assert info.pem == ca.pem.decode("ascii")
    assert x509.load_certificate(info.pem.encode("ascii")) == ca.certificate


def test_serial_hex_is_whole_bytes_like_openssl():
    assert x509.serial_hex(0x1) == "01"
    assert x509.serial_hex(0xABC) == "0ABC"
    assert x509.serial_hex(0xABCD) == "ABCD"
