"""X.509 rules of the console, as pure functions over `cryptography`.

Nothing here imports Django: the functions take bytes, certificates and datetimes and
either return plain values or raise `CertificateError` with a message a user can act
on. Every exception that `cryptography` raises is wrapped here, once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID

from iothub_console.errors import RuleError

MAX_CERTIFICATE_FILE_BYTES = 64 * 1024
MAX_SERIAL_OCTETS = 20
MIN_RSA_BITS = 2048
ALLOWED_EC_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
WEAK_SIGNATURE_HASHES = {"md5", "sha1"}

# Messages a user sees. Kept as constants so tests assert the exact text.
EMPTY_FILE = "The file is empty. Choose the certificate file again."
PRIVATE_KEY_REFUSED = (
    "This file contains a private key. It was not stored. Never upload or share a "
    "private key: upload only the certificate (the part between BEGIN CERTIFICATE "
    "and END CERTIFICATE)."
)
NOT_A_CERTIFICATE = (
    "This file is not an X.509 certificate in PEM or DER format. Upload a certificate "
    "file such as the ca.crt that openssl wrote."
)
SEVERAL_CERTIFICATES = "This file holds {count} certificates. Upload a file with exactly one certificate."
NOT_A_CA = (
    "This is not a CA certificate: its basicConstraints extension does not say CA:TRUE. "
    "Upload the certificate of the CA that signs your device certificates "
    "(made with -extensions v3_ca)."
)
CA_WITHOUT_KEY_CERT_SIGN = "This CA certificate's keyUsage does not allow signing certificates (keyCertSign)."
EXPIRED = "The {role} expired on {date}."
NOT_YET_VALID = "The {role} is not valid until {date}."
WEAK_RSA_KEY = "The {role} has a {bits}-bit RSA key. RSA keys must have at least 2048 bits."
UNSUPPORTED_CURVE = "The {role} uses the elliptic curve {curve}. Only P-256, P-384 and P-521 are accepted."
UNSUPPORTED_KEY = "The {role} has a {kind} key. Only RSA (2048 bits or more) and EC keys are accepted."
WEAK_SIGNATURE = (
    "The {role} is signed with {algorithm}, which is no longer safe. "
    "Sign it with SHA-256 or stronger (openssl -sha256)."
)
UNKNOWN_SIGNATURE = "The {role}'s signature algorithm is not supported."
ISSUER_NAME_MISMATCH = (
    'The {role} was not issued by this CA: its issuer is "{issuer}" but the CA\'s subject is "{subject}".'
)
SIGNATURE_MISMATCH = (
    "The {role} names this CA as its issuer, but its signature does not verify with "
    "the CA's public key. It was signed by a different key."
)
UNREADABLE_NAME = (
    "The certificate's subject or issuer name cannot be decoded (it is not valid "
    "UTF-8 or another string type X.509 allows). Issue the certificate again."
)
SERIAL_TOO_LONG = (
    "The certificate's serial number is {octets} bytes long; serial numbers may be at "
    "most 20 bytes (RFC 5280). Issue the certificate again with a shorter serial number."
)
MALFORMED_EXTENSIONS = "The certificate's extensions are malformed and cannot be read."
NO_COMMON_NAME = "The {role} has no Common Name (CN) in its subject."
COMMON_NAME_MISMATCH = (
    "The {role}'s Common Name must be your current authentication code (shown on Add "
    'Certificate; DescribeAuthenticationCode in the API), but it is "{name}".'
)
NO_CLIENT_AUTH = "The {role}'s extendedKeyUsage does not allow TLS client authentication (clientAuth)."

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*?(.*?)-----END \1-----", re.DOTALL)
_CERTIFICATE_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"}


class CertificateError(RuleError, ValueError):
    """A certificate broke one of the console's rules; `message` says which."""


@dataclass(frozen=True)
class CertificateInfo:
    """What the console shows and stores about one certificate."""

    subject: str
    common_name: str
    issuer: str
    serial_hex: str
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    key_type: str
    key_size: int
    signature_hash: str
    pem: str

    @property
    def key_description(self) -> str:
        return f"{self.key_type} {self.key_size}"


def load_certificate(data: bytes) -> x509.Certificate:
    """Load exactly one certificate from PEM or DER bytes.

    PEM may have CRLF line endings and any text around the block (such as the
    output of `openssl x509 -text`). A private key anywhere in the file is refused,
    whatever else the file holds.
    """
    if not data or not data.strip():
        raise CertificateError(EMPTY_FILE)
    blocks = _PEM_BLOCK.findall(data)
    if any(b"PRIVATE KEY" in label for label, _ in blocks):
        raise CertificateError(PRIVATE_KEY_REFUSED)
    if b"-----BEGIN" in data and b"PRIVATE KEY" in data:
        raise CertificateError(PRIVATE_KEY_REFUSED)
    certificate_blocks = [label for label, _ in blocks if label in _CERTIFICATE_LABELS]
    if len(certificate_blocks) > 1:
        raise CertificateError(SEVERAL_CERTIFICATES.format(count=len(certificate_blocks)))
    if certificate_blocks:
        certificate = _load_pem(data)
    elif b"-----BEGIN" in data:
        raise CertificateError(NOT_A_CERTIFICATE)
    else:
        certificate = _load_der(data)
    _check_readable(certificate)
    return certificate


def holds_private_key(data: bytes) -> bool:
    """True for PEM text naming a private key or for a DER private key.

    What `load_certificate` refuses as a key, for callers that must drop a key
    before they store the upload and load it later.
    """
    if b"-----BEGIN" in data:
        return b"PRIVATE KEY" in data
    return _is_der_private_key(data)


def _check_readable(certificate: x509.Certificate) -> None:
    """Refuse now what cryptography parses lazily and would fail on later.

    Names are decoded on first access, so a certificate with an undecodable subject
    loads fine and then raises deep inside a view; serials beyond RFC 5280's 20
    bytes load too but fit no sane column.
    """
    try:
        # Reading a name decodes all its attributes; formatting it is not needed.
        certificate.subject  # noqa: B018
        certificate.issuer  # noqa: B018
    except (ValueError, UnicodeDecodeError):
        raise CertificateError(UNREADABLE_NAME) from None
    octets = (certificate.serial_number.bit_length() + 7) // 8
    if octets > MAX_SERIAL_OCTETS:
        raise CertificateError(SERIAL_TOO_LONG.format(octets=octets))


def _load_pem(data: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data.replace(b"\r\n", b"\n"))
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(NOT_A_CERTIFICATE) from None


def _load_der(data: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(data)
    except (ValueError, UnsupportedAlgorithm):
        pass
    if _is_der_private_key(data):
        raise CertificateError(PRIVATE_KEY_REFUSED)
    raise CertificateError(NOT_A_CERTIFICATE)


def _is_der_private_key(data: bytes) -> bool:
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:
        return True  # an encrypted key: it parsed far enough to ask for a password
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def common_name(name: x509.Name) -> str:
    attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return ""
    value = attributes[0].value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def describe_certificate(certificate: x509.Certificate) -> CertificateInfo:
    key_type, key_size = _key_type_and_size(certificate)
    return CertificateInfo(
        subject=certificate.subject.rfc4514_string(),
        common_name=common_name(certificate.subject),
        issuer=certificate.issuer.rfc4514_string(),
        serial_hex=serial_hex(certificate.serial_number),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        fingerprint_sha256=fingerprint_sha256(certificate),
        key_type=key_type,
        key_size=key_size,
        signature_hash=_signature_hash_name(certificate),
        pem=to_pem(certificate),
    )


def serial_hex(serial: int) -> str:
    """Upper-case hex in whole bytes, as `openssl x509 -serial` prints it."""
    digits = format(serial, "X")
    return digits.zfill(len(digits) + len(digits) % 2)


def fingerprint_sha256(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def to_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _extension(certificate: x509.Certificate, kind: type[x509.ExtensionType]):
    """The value of one extension, or None; malformed extensions are a CertificateError."""
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(MALFORMED_EXTENSIONS) from None


def is_ca(certificate: x509.Certificate) -> bool:
    constraints = _extension(certificate, x509.BasicConstraints)
    return constraints is not None and constraints.ca


def _key_type_and_size(certificate: x509.Certificate | x509.CertificateSigningRequest) -> tuple[str, int]:
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "unknown", 0
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {ALLOWED_EC_CURVES.get(key.curve.name, key.curve.name)}", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return type(key).__name__, 0


def _signature_hash_name(certificate: x509.Certificate) -> str:
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return "unknown"
    return algorithm.name if algorithm is not None else "none"


def check_validity(certificate: x509.Certificate, now: datetime, role: str) -> None:
    if now < certificate.not_valid_before_utc:
        raise CertificateError(
            NOT_YET_VALID.format(role=role, date=_format_date(certificate.not_valid_before_utc))
        )
    if now > certificate.not_valid_after_utc:
        raise CertificateError(EXPIRED.format(role=role, date=_format_date(certificate.not_valid_after_utc)))


def check_key_strength(certificate: x509.Certificate | x509.CertificateSigningRequest, role: str) -> None:
    """RSA of 2048 bits or more, or EC on P-256/P-384/P-521 (certificates and CSRs alike)."""
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(UNSUPPORTED_KEY.format(role=role, kind="unsupported")) from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise CertificateError(WEAK_RSA_KEY.format(role=role, bits=key.key_size))
        return
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ALLOWED_EC_CURVES:
            raise CertificateError(UNSUPPORTED_CURVE.format(role=role, curve=key.curve.name))
        return
    kind, _ = _key_type_and_size(certificate)
    raise CertificateError(UNSUPPORTED_KEY.format(role=role, kind=kind))


def check_signature_hash(certificate: x509.Certificate, role: str) -> None:
    name = _signature_hash_name(certificate)
    if name == "unknown":
        raise CertificateError(UNKNOWN_SIGNATURE.format(role=role))
    if name in WEAK_SIGNATURE_HASHES:
        raise CertificateError(WEAK_SIGNATURE.format(role=role, algorithm=name.upper()))


def check_ca_certificate(certificate: x509.Certificate, now: datetime) -> None:
    """A certificate the console will trust to issue device certificates."""
    role = "CA certificate"
    if not is_ca(certificate):
        raise CertificateError(NOT_A_CA)
    usage = _extension(certificate, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        raise CertificateError(CA_WITHOUT_KEY_CERT_SIGN)
    check_validity(certificate, now, role)
    check_key_strength(certificate, role)
    check_signature_hash(certificate, role)


def verify_issued_by(certificate: x509.Certificate, issuer: x509.Certificate, role: str) -> None:
    """The issuer's subject is the certificate's issuer and its key made the signature.

    Comparing names alone is not enough: anyone can make a CA with the same subject.
    """
    if certificate.issuer != issuer.subject:
        raise CertificateError(
            ISSUER_NAME_MISMATCH.format(
                role=role,
                issuer=certificate.issuer.rfc4514_string(),
                subject=issuer.subject.rfc4514_string(),
            )
        )
    try:
        certificate.verify_directly_issued_by(issuer)
    except InvalidSignature:
        raise CertificateError(SIGNATURE_MISMATCH.format(role=role)) from None
    except ValueError:
        # cryptography gives the same ValueError for a signature made by another kind
        # of key (an EC key signing in the name of an RSA CA) as for one it cannot
        # check (SHA-1); only the first is the "different key" the user must hear about.
        mismatch = _signed_by_other_kind_of_key(certificate, issuer)
        message = SIGNATURE_MISMATCH if mismatch else UNKNOWN_SIGNATURE
        raise CertificateError(message.format(role=role)) from None
    except (TypeError, UnsupportedAlgorithm):
        raise CertificateError(UNKNOWN_SIGNATURE.format(role=role)) from None


def _signed_by_other_kind_of_key(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        parameters = certificate.signature_algorithm_parameters
        key = issuer.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return False
    if isinstance(parameters, padding.PKCS1v15 | padding.PSS):
        return not isinstance(key, rsa.RSAPublicKey)
    if isinstance(parameters, ec.ECDSA):
        return not isinstance(key, ec.EllipticCurvePublicKey)
    if certificate.signature_algorithm_oid == SignatureAlgorithmOID.ED25519:
        return not isinstance(key, ed25519.Ed25519PublicKey)
    if certificate.signature_algorithm_oid == SignatureAlgorithmOID.ED448:
        return not isinstance(key, ed448.Ed448PublicKey)
    return False


def verify_proof_of_possession(
    ca: x509.Certificate, verification: x509.Certificate, code: str, now: datetime
) -> None:
    """The verification certificate shows that its maker holds the CA's private key.

    Its Common Name is the authentication code the console handed out, so it cannot
    have been made before the code existed; its signature verifies with the CA's key.
    """
    role = "verification certificate"
    name = common_name(verification.subject)
    if not name:
        raise CertificateError(NO_COMMON_NAME.format(role=role))
    if name != code:
        raise CertificateError(COMMON_NAME_MISMATCH.format(role=role, name=name))
    verify_issued_by(verification, ca, role)
    check_validity(verification, now, role)


def same_subject_and_key(first: x509.Certificate, second: x509.Certificate) -> bool:
    """True when `second` renews `first`: same subject name and same public key."""
    if first.subject != second.subject:
        return False
    encoding, public_format = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        return first.public_key().public_bytes(encoding, public_format) == second.public_key().public_bytes(
            encoding, public_format
        )
    except (ValueError, UnsupportedAlgorithm):
        return False


def allows_client_auth(certificate: x509.Certificate) -> bool:
    """True unless an extendedKeyUsage extension is present and lacks clientAuth."""
    usage = _extension(certificate, x509.ExtendedKeyUsage)
    if usage is None:
        return True
    return ExtendedKeyUsageOID.CLIENT_AUTH in usage or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usage


def _format_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
