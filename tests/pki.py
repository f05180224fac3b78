"""Test certificates built in memory with `cryptography`: CAs, leaves, verification certs.

Keys are cached by kind so that a test suite of hundreds of certificates does not
spend its time generating RSA keys; pass `fresh=True` where a test needs a key no
other certificate shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

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


@cache
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


_SHA256_WITH_RSA_OID = bytes.fromhex("06092a864886f70d01010b")
_SHA1_WITH_RSA_OID = bytes.fromhex("06092a864886f70d010105")


def make_sha1_ca(common_name: str = "SHA-1 Root CA", *, key: rsa.RSAPrivateKey | None = None) -> Issued:
    """A self-signed RSA CA signed with SHA-1, which `cryptography` no longer signs itself.

    It is signed with SHA-256 first; then the signature algorithm OID (the same length
    for SHA-1) is swapped in both places and the changed TBS is signed again with SHA-1.
    An RSA signature is always the key's length, so no DER length changes.
    """
    from cryptography.hazmat.primitives.asymmetric import padding

    key = key or rsa_key(2048, slot=0)
    der = make_ca(common_name, key=key).der
    assert der.count(_SHA256_WITH_RSA_OID) == 2
    swapped = x509.load_der_x509_certificate(der.replace(_SHA256_WITH_RSA_OID, _SHA1_WITH_RSA_OID))
    signature = key.sign(swapped.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())
    assert len(signature) == len(swapped.signature)
    resigned = swapped.public_bytes(serialization.Encoding.DER)[: -len(signature)] + signature
    certificate = x509.load_der_x509_certificate(resigned)
    # verify_directly_issued_by refuses SHA-1 too, so check the signature by hand.
    key.public_key().verify(
        certificate.signature, certificate.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1()
    )
    return Issued(certificate, key)


def make_csr(common_name: str, key: PrivateKey | None = None) -> x509.CertificateSigningRequest:
    """A certificate signing request for `common_name`, signed by `key` (RSA slot 2 by default)."""
    key = key or rsa_key(2048, slot=2)
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )


def with_tampered_signature(der: bytes) -> bytes:
    """The same DER structure with the last signature byte flipped, so it no longer verifies."""
    return der[:-1] + bytes([der[-1] ^ 0x01])


def make_certificate(
    subject: x509.Name,
    *,
    issuer: Issued | None = None,
    key=None,
    extensions: list[x509.ExtensionType] | None = None,
    serial: int | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    hash_algorithm: hashes.HashAlgorithm | None = None,
) -> Issued:
    """A certificate with only the `extensions` given (all non-critical).

    For the shapes `make_ca` and `make_leaf` never build: no basicConstraints, a
    subject without a CN, a chosen serial, an Ed25519 key, a malformed extension.
    Self-signed unless `issuer` is given.
    """
    from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

    key = key or rsa_key(2048, slot=0)
    builder = _builder(
        subject,
        issuer.certificate.subject if issuer else subject,
        key.public_key(),
        not_before,
        not_after,
        serial,
    )
    for extension in extensions or []:
        builder = builder.add_extension(extension, critical=False)
    signing_key = issuer.key if issuer else key
    # Ed25519 and Ed448 hash internally; cryptography wants no hash algorithm for them.
    if isinstance(signing_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        algorithm = None
    else:
        algorithm = hash_algorithm or hashes.SHA256()
    return Issued(builder.sign(signing_key, algorithm), key)


_WEAK_SIGNATURE_OIDS = {
    "sha1": _SHA1_WITH_RSA_OID,
    "md5": bytes.fromhex("06092a864886f70d010104"),
}


def with_weak_signature(
    issued: Issued, hash_algorithm: hashes.HashAlgorithm, *, signer: Issued | None = None
) -> Issued:
    """`issued` signed again with SHA-1 or MD5 by the RSA key that signed it.

    `signer` is its issuer (itself when omitted). The same OID swap as `make_sha1_ca`,
    for any certificate and for MD5 as well, which `cryptography` refuses to sign with.
    """
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_key = (signer or issued).key
    der = issued.der
    assert der.count(_SHA256_WITH_RSA_OID) == 2
    swapped = x509.load_der_x509_certificate(
        der.replace(_SHA256_WITH_RSA_OID, _WEAK_SIGNATURE_OIDS[hash_algorithm.name])
    )
    signature = signing_key.sign(swapped.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm)
    assert len(signature) == len(swapped.signature)
    resigned = swapped.public_bytes(serialization.Encoding.DER)[: -len(signature)] + signature
    certificate = x509.load_der_x509_certificate(resigned)
    signing_key.public_key().verify(
        certificate.signature, certificate.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm
    )
    return Issued(certificate, issued.key)


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _der_tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _der_element(der: bytes, offset: int) -> tuple[int, int]:
    """(start of content, end of element) of the DER element at `offset`."""
    first = der[offset + 1]
    if first < 0x80:
        return offset + 2, offset + 2 + first
    count = first & 0x7F
    length = int.from_bytes(der[offset + 2 : offset + 2 + count], "big")
    return offset + 2 + count, offset + 2 + count + length


def make_ca_with_long_serial(octets: int, common_name: str = "Long Serial CA") -> Issued:
    """A self-signed EC P-256 CA whose serial number is `octets` bytes long.

    `cryptography` builds serials of at most 20 bytes (RFC 5280), but OpenSSL's
    `-set_serial` makes longer ones and `cryptography` loads them; so the TBS is
    re-encoded with the long serial and signed again.
    """
    key = ec_key()
    der = make_ca(common_name, key=key).der
    certificate_start, _ = _der_element(der, 0)
    tbs_start, tbs_end = _der_element(der, certificate_start)
    _, version_end = _der_element(der, tbs_start)
    _, serial_end = _der_element(der, version_end)
    serial = b"\x7f" + bytes(range(1, octets))  # positive, no leading zero byte
    tbs = _der_tlv(0x30, der[tbs_start:version_end] + _der_tlv(0x02, serial) + der[serial_end:tbs_end])
    _, algorithm_end = _der_element(der, tbs_end)
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    signature_value = _der_tlv(0x03, b"\x00" + signature)
    resigned = _der_tlv(0x30, tbs + der[tbs_end:algorithm_end] + signature_value)
    certificate = x509.load_der_x509_certificate(resigned)
    certificate.verify_directly_issued_by(certificate)
    return Issued(certificate, key)


def with_undecodable_common_name(issued: Issued) -> bytes:
    """`issued` as DER with its CN's UTF8String bytes replaced by invalid UTF-8.

    `cryptography` loads such a certificate and raises ValueError only when its
    subject (or, for a self-signed one, issuer) is read. The signature is left stale.
    """
    value = issued.common_name.encode()
    assert b"\xff" not in value
    return issued.der.replace(value, b"\xff" * len(value))


def make_sha1_leaf(
    common_name: str, issuer: Issued, *, extended_key_usage: list[x509.ObjectIdentifier] | None = None
) -> Issued:
    """An end-entity certificate signed with SHA-1 by an RSA `issuer`, as in `make_sha1_ca`."""
    from cryptography.hazmat.primitives.asymmetric import padding

    der = make_leaf(common_name, issuer, extended_key_usage=extended_key_usage).der
    assert der.count(_SHA256_WITH_RSA_OID) == 2
    swapped = x509.load_der_x509_certificate(der.replace(_SHA256_WITH_RSA_OID, _SHA1_WITH_RSA_OID))
    signature = issuer.key.sign(swapped.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())
    resigned = swapped.public_bytes(serialization.Encoding.DER)[: -len(signature)] + signature
    return Issued(x509.load_der_x509_certificate(resigned), rsa_key(2048, slot=1))
