"""load_certificate: exactly one certificate, PEM or DER, and never a private key."""

import os

import pytest
from cryptography.hazmat.primitives import serialization

from certificates import x509
from tests import pki

OPENSSL_TEXT = b"""Certificate:
    Data:
        Version: 3 (0x2)
        Serial Number:
            4f:2a:91:0c:de:33:71:a8:5e:0b:11:22:33:44:55:66:77:88:99:aa
        Signature Algorithm: sha256WithRSAEncryption
        Issuer: C = CN, O = IoT Hub Console Tests, CN = Test Root CA
        Validity
            Not Before: Jan  1 00:00:00 2025 GMT
            Not After : Jan  1 00:00:00 2035 GMT
        Subject: C = CN, O = IoT Hub Console Tests, CN = Test Root CA
        Subject Public Key Info:
            Public Key Algorithm: rsaEncryption
                Public-Key: (2048 bit)
                Modulus:
                    00:c3:5e:8f:...
                Exponent: 65537 (0x10001)
        X509v3 extensions:
            X509v3 Basic Constraints: critical
                CA:TRUE
    Signature Algorithm: sha256WithRSAEncryption
    Signature Value:
        1a:2b:3c:...
"""


def refused(data: bytes) -> str:
    with pytest.raises(x509.CertificateError) as caught:
        x509.load_certificate(data)
    return caught.value.message


def private_bytes(key, encoding, private_format, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(encoding, private_format, encryption)


@pytest.fixture(scope="module")
def ca() -> pki.Issued:
    return pki.make_ca()


def test_loads_pem(ca):
    assert x509.load_certificate(ca.pem) == ca.certificate


def test_loads_der(ca):
    assert x509.load_certificate(ca.der) == ca.certificate


def test_loads_pem_with_crlf_line_endings(ca):
    assert x509.load_certificate(ca.pem.replace(b"\n", b"\r\n")) == ca.certificate


def test_loads_pem_after_openssl_text_output(ca):
    assert x509.load_certificate(OPENSSL_TEXT + ca.pem) == ca.certificate


def test_loads_pem_after_openssl_text_output_with_crlf(ca):
    data = (OPENSSL_TEXT + ca.pem).replace(b"\n", b"\r\n")
    assert x509.load_certificate(data) == ca.certificate


def test_loads_pem_with_text_after_the_block(ca):
    assert x509.load_certificate(ca.pem + b"\nissued by the lab CA\n") == ca.certificate


def test_loads_pem_labelled_x509_certificate(ca):
    data = ca.pem.replace(b"-----BEGIN CERTIFICATE-----", b"-----BEGIN X509 CERTIFICATE-----")
    data = data.replace(b"-----END CERTIFICATE-----", b"-----END X509 CERTIFICATE-----")
    assert x509.load_certificate(data) == ca.certificate


def test_refuses_empty_file():
    assert refused(b"") == x509.EMPTY_FILE


def test_refuses_whitespace_only_file():
    assert refused(b" \r\n\t\n  ") == x509.EMPTY_FILE


def test_refuses_random_bytes():
    assert refused(os.urandom(512)) == x509.NOT_A_CERTIFICATE


def test_refuses_plain_text():
    assert refused(b"hello, this is not a certificate\n") == x509.NOT_A_CERTIFICATE


def test_refuses_pem_block_with_garbage_inside():
    data = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n"
    assert refused(data) == x509.NOT_A_CERTIFICATE


def test_refuses_pem_block_that_is_not_base64():
    data = b"-----BEGIN CERTIFICATE-----\n!!!! not base64 ????\n-----END CERTIFICATE-----\n"
    assert refused(data) == x509.NOT_A_CERTIFICATE


def test_refuses_truncated_der(ca):
    assert refused(ca.der[:-10]) == x509.NOT_A_CERTIFICATE


def test_refuses_der_with_trailing_bytes(ca):
    assert refused(ca.der + b"\x00\x01") == x509.NOT_A_CERTIFICATE


def test_refuses_csr_as_not_a_certificate():
    csr = pki.make_csr("device-1")
    assert refused(csr.public_bytes(serialization.Encoding.PEM)) == x509.NOT_A_CERTIFICATE


def test_refuses_der_csr_as_not_a_certificate():
    csr = pki.make_csr("device-1")
    assert refused(csr.public_bytes(serialization.Encoding.DER)) == x509.NOT_A_CERTIFICATE


def test_refuses_pem_public_key_as_not_a_certificate():
    data = (
        pki.rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert refused(data) == x509.NOT_A_CERTIFICATE


def test_refuses_two_certificates_in_one_file(ca):
    other = pki.make_ca("Second CA", key=pki.rsa_key(2048, slot=2))
    assert refused(ca.pem + other.pem) == x509.SEVERAL_CERTIFICATES.format(count=2)


def test_refuses_same_certificate_twice_in_one_file(ca):
    assert refused(ca.pem + b"\n" + ca.pem + ca.pem) == x509.SEVERAL_CERTIFICATES.format(count=3)


def test_refuses_pem_private_key_with_warning(ca):
    data = private_bytes(ca.key, serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8)
    assert data.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert refused(data) == x509.PRIVATE_KEY_REFUSED


def test_refuses_traditional_rsa_private_key_with_warning(ca):
    data = private_bytes(ca.key, serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL)
    assert data.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert refused(data) == x509.PRIVATE_KEY_REFUSED


def test_refuses_traditional_ec_private_key_with_warning():
    data = private_bytes(
        pki.ec_key(), serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL
    )
    assert data.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert refused(data) == x509.PRIVATE_KEY_REFUSED


def test_refuses_ec_private_key_after_ec_parameters_with_warning():
    # What `openssl ecparam -genkey -name prime256v1` writes.
    key = private_bytes(
        pki.ec_key(), serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL
    )
    data = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + key
    assert refused(data) == x509.PRIVATE_KEY_REFUSED


def test_refuses_encrypted_pkcs8_private_key_with_warning(ca):
    data = private_bytes(ca.key, serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, b"secret")
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert refused(data) == x509.PRIVATE_KEY_REFUSED


def test_refuses_encrypted_traditional_private_key_with_warning(ca):
    data = private_bytes(
        ca.key, serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, b"secret"
    )
    assert b"Proc-Type: 4,ENCRYPTED" in data
    assert refused(data) == x509.PRIVATE_KEY_REFUSED


@pytest.mark.parametrize(
    "private_format",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
    ids=["pkcs8", "traditional"],
)
@pytest.mark.parametrize("key_kind", ["rsa", "ec"])
def test_refuses_der_private_key_with_warning(private_format, key_kind):
    key = pki.rsa_key() if key_kind == "rsa" else pki.ec_key()
    assert refused(private_bytes(key, serialization.Encoding.DER, private_format)) == x509.PRIVATE_KEY_REFUSED


def test_refuses_encrypted_der_private_key_with_warning(ca):
    data = private_bytes(ca.key, serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, b"secret")
    assert refused(data) == x509.PRIVATE_KEY_REFUSED


def test_refuses_certificate_followed_by_its_key_with_warning(ca):
    assert refused(ca.pem + ca.key_pem) == x509.PRIVATE_KEY_REFUSED


def test_refuses_key_followed_by_its_certificate_with_warning(ca):
    assert refused(ca.key_pem + ca.pem) == x509.PRIVATE_KEY_REFUSED


def test_refuses_certificate_and_key_with_crlf_line_endings_with_warning(ca):
    assert refused((ca.pem + ca.key_pem).replace(b"\n", b"\r\n")) == x509.PRIVATE_KEY_REFUSED


def test_refuses_two_certificates_and_a_key_with_the_key_warning(ca):
    other = pki.make_ca("Second CA", key=pki.rsa_key(2048, slot=2))
    assert refused(ca.pem + other.pem + ca.key_pem) == x509.PRIVATE_KEY_REFUSED


def test_refuses_private_key_block_with_garbage_inside_with_warning():
    data = b"-----BEGIN RSA PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END RSA PRIVATE KEY-----\n"
    assert refused(data) == x509.PRIVATE_KEY_REFUSED


def test_refuses_certificate_with_truncated_key_after_it_with_warning(ca):
    # A key whose END line was cut off is still a key the user must not upload.
    truncated_key = ca.key_pem[: len(ca.key_pem) // 2]
    assert refused(ca.pem + truncated_key) == x509.PRIVATE_KEY_REFUSED


def test_private_key_refused_message_warns_never_to_share_keys():
    assert "Never upload or share a private key" in x509.PRIVATE_KEY_REFUSED
    assert "not stored" in x509.PRIVATE_KEY_REFUSED


def test_certificate_error_is_a_value_error_carrying_its_message():
    error = x509.CertificateError(x509.EMPTY_FILE)
    assert isinstance(error, ValueError)
    assert str(error) == error.message == x509.EMPTY_FILE
