"""Test certificates built in memory with `cryptography`: CAs, leaves, verification certs.

Keys are cached by kind so that a test suite of hundreds of certificates does not
spend its time generating RSA keys; pass `fresh=True` where a test needs a key no
other certificate shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class Issued:
    certificate: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def common_name(self) -> str:
        return self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


@lru_cache(maxsize=None)
def _cached_rsa_key(bits: int, slot: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def rsa_key(bits: int = 2048, slot: int = 0, fresh: bool = False) -> rsa.RSAPrivateKey:
    """An RSA key; the same (bits, slot) gives the same key within a test run."""
    if fresh:
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _cached_rsa_key(bits, slot)


def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


def name(common_name: str, organization: str = "IoT Hub Console Tests") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _builder(
    subject: x509.Name,
    issuer_name: x509.Name,
    public_key,
    not_before: datetime | None,
    not_after: datetime | None,
    serial: int | None,
) -> x509.CertificateBuilder:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=365))
    )


def make_ca(
    common_name: str = "Test Root CA",
    *,
    key: PrivateKey | None = None,
    issuer: Issued | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
    is_ca: bool = True,
    key_cert_sign: bool = True,
    subject: x509.Name | None = None,
) -> Issued:
    """A CA certificate: self-signed, or an intermediate when `issuer` is given."""
    key = key or rsa_key(2048, slot=0)
    subject = subject or name(common_name)
    builder = _builder(
        subject,
        issuer.certificate.subject if issuer else subject,
        key.public_key(),
        not_before,
        not_after,
        None,
    )
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=key_cert_sign,
            crl_sign=key_cert_sign,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )
    signing_key = issuer.key if issuer else key
    certificate = builder.sign(signing_key, hash_algorithm or hashes.SHA256())
    return Issued(certificate, key)


def make_leaf(
    common_name: str,
    issuer: Issued,
    *,
    key: PrivateKey | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
    extended_key_usage: list[x509.ObjectIdentifier] | None = None,
    issuer_name: x509.Name | None = None,
) -> Issued:
    """An end-entity certificate signed by `issuer` (its name can be forged with `issuer_name`)."""
    key = key or rsa_key(2048, slot=1)
    builder = _builder(
        name(common_name),
        issuer_name or issuer.certificate.subject,
        key.public_key(),
        not_before,
        not_after,
        None,
    )
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    if extended_key_usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_key_usage), critical=False)
    certificate = builder.sign(issuer.key, hash_algorithm or hashes.SHA256())
    return Issued(certificate, key)


def make_verification(code: str, ca: Issued, **kwargs) -> Issued:
    """The proof-of-possession certificate: CN = the authentication code, signed by the CA."""
    return make_leaf(code, ca, **kwargs)


CLIENT_AUTH = [ExtendedKeyUsageOID.CLIENT_AUTH]
SERVER_AUTH_ONLY = [ExtendedKeyUsageOID.SERVER_AUTH]
