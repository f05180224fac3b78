"""Making keys and certificates: the console's own CAs and the devices they issue.

The counterpart of `x509.py` (which checks what users bring); like it, pure
`cryptography` with no Django, and every library error becomes a `CertificateError`.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .x509 import PRIVATE_KEY_REFUSED, CertificateError, check_key_strength

KEY_ALGORITHMS = ("ec-p256", "rsa-2048")
# Backdating absorbs small clock differences between the console and devices.
BACKDATE = timedelta(minutes=5)

NOT_A_CSR = (
    "This file is not a certificate signing request (CSR) in PEM or DER format. "
    "Make one with: openssl req -new -key device.key -out device.csr"
)
CSR_BAD_SIGNATURE = (
    "The CSR's signature does not verify with the public key it holds; it was altered "
    "or made wrongly. Make a new CSR with openssl req -new."
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def generate_private_key(algorithm: str) -> PrivateKey:
    if algorithm == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key algorithm {algorithm!r}; choose one of {KEY_ALGORITHMS}")


def private_key_to_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_key_pem(pem: str) -> PrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    # Only keys the console generated are stored, and it generates RSA and EC keys alone.
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError(f"a stored private key is {type(key).__name__}, not RSA or EC")
    return key


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_extensions(builder: x509.CertificateBuilder, public_key, path_length: int | None):
    return (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def make_root_ca(common_name: str, organization: str, now: datetime, days: int = 3650):
    """A self-signed EC P-256 root CA; returns (certificate, private key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(common_name, organization)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
    )
    builder = _ca_extensions(builder, key.public_key(), path_length=1)
    return builder.sign(key, hashes.SHA256()), key


def make_intermediate_ca(
    common_name: str,
    organization: str,
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    now: datetime,
    days: int = 3650,
    crl_url: str = "",
):
    """An EC P-256 CA issued by `issuer`; returns (certificate, private key).

    `crl_url` is where `issuer` publishes its CRL (the CRL Distribution Point).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(now + timedelta(days=days), issuer.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organization))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    builder = _with_crl_distribution_point(_ca_extensions(builder, key.public_key(), path_length=0), crl_url)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _leaf_builder(
    common_name: str, public_key, issuer: x509.Certificate, issuer_key: PrivateKey, now: datetime, days: int
) -> x509.CertificateBuilder:
    not_after = min(now + timedelta(days=days), issuer.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )


def _with_crl_distribution_point(builder: x509.CertificateBuilder, crl_url: str) -> x509.CertificateBuilder:
    """Name where the issuer's CRL is, so a verifier that checks revocation can fetch it."""
    if not crl_url:
        return builder
    point = x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None, reasons=None, crl_issuer=None
    )
    return builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)


def _leaf_key_usage(public_key) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        # RSA TLS key exchange needs keyEncipherment; EC keys never encipher.
        key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def issue_client_certificate(
    common_name: str,
    public_key,
    issuer: x509.Certificate,
    issuer_key: PrivateKey,
    now: datetime,
    days: int = 3650,
    crl_url: str = "",
) -> x509.Certificate:
    """A device certificate: CN as given, TLS client authentication only.

    `crl_url` is where `issuer` publishes its CRL (the CRL Distribution Point).
    """
    builder = (
        _leaf_builder(common_name, public_key, issuer, issuer_key, now, days)
        .add_extension(_leaf_key_usage(public_key), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    return _with_crl_distribution_point(builder, crl_url).sign(issuer_key, hashes.SHA256())


def issue_server_certificate(
    host: str, public_key, issuer: x509.Certificate, issuer_key: PrivateKey, now: datetime, days: int = 825
) -> x509.Certificate:
    """A TLS server certificate whose SAN is the host as an IP address or a DNS name."""
    try:
        alternative: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alternative = x509.DNSName(host)
    builder = (
        _leaf_builder(host, public_key, issuer, issuer_key, now, days)
        .add_extension(_leaf_key_usage(public_key), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    """A CSR from PEM or DER whose self-signature verifies and whose key is strong enough."""
    if not data or not data.strip():
        raise CertificateError("The file is empty. Choose the CSR file again.")
    if b"PRIVATE KEY" in data:
        raise CertificateError(PRIVATE_KEY_REFUSED)
    try:
        if b"-----BEGIN" in data:
            csr = x509.load_pem_x509_csr(data.replace(b"\r\n", b"\n"))
        else:
            csr = x509.load_der_x509_csr(data)
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(NOT_A_CSR) from None
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        valid = False
    if not valid:
        raise CertificateError(CSR_BAD_SIGNATURE)
    check_key_strength(csr, "CSR")
    return csr
