"""Certificate revocation lists (RFC 5280), as pure functions over `cryptography`.

Nothing here imports Django. `build_crl` signs the console's own CRLs (the Platform
CAs hold their keys); `verify_crl` checks a CRL a customer uploads for one of their CAs,
whose key the console never sees: the CRL's issuer must be that CA, its signature must
verify with the CA's public key, and its dates must hold. Every `cryptography` error
becomes a `CertificateError` with a message a user can act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .x509 import PRIVATE_KEY_REFUSED, CertificateError, serial_hex

# A CRL of a large fleet is far bigger than a certificate; a megabyte holds ~25,000 entries.
MAX_CRL_FILE_BYTES = 1024 * 1024
# Clocks differ: a CRL issued "in a minute" by a CA whose clock runs ahead is still accepted.
CLOCK_SKEW = timedelta(minutes=5)

# The reasons RFC 5280 §5.3.1 names, by their ASN.1 names (what `openssl crl -text` prints).
REASONS = tuple(flag.value for flag in x509.ReasonFlags)

EMPTY_CRL = "The file is empty. Choose the CRL file again."
CRL_TOO_LARGE = "The CRL file is {size:,} bytes; at most {limit:,} bytes are accepted."
NOT_A_CRL = (
    "This file is not a certificate revocation list (CRL) in PEM or DER format. Make one "
    "with: openssl ca -gencrl -config ca.conf -out ca.crl"
)
CRL_WRONG_ISSUER = (
    'This CRL was not issued by this CA: its issuer is "{issuer}" but the CA\'s subject is "{subject}".'
)
CRL_BAD_SIGNATURE = (
    "This CRL names this CA as its issuer, but its signature does not verify with the CA's "
    "public key. It was signed by a different key or altered after signing."
)
CRL_UNKNOWN_SIGNATURE = "The CRL's signature algorithm is not supported; sign it with SHA-256."
CRL_NOT_YET_VALID = "The CRL is not valid until {date} (its thisUpdate); check the CA's clock."
CRL_EXPIRED = "The CRL expired on {date} (its nextUpdate). Issue a current one: openssl ca -gencrl."
CRL_MALFORMED = "The CRL's entries or extensions are malformed and cannot be read."
# RFC 5280 allows CRL numbers of 20 octets; the console stores them as 64-bit integers,
# and a CA's numbers, counted up one CRL at a time, never come near that.
MAX_CRL_NUMBER = 2**63 - 1
CRL_NUMBER_TOO_LARGE = (
    "The CRL's number ({number}) is larger than the console can hold (at most {limit}). "
    "Number the CA's CRLs from 1 upwards."
)
CRL_OLDER = (
    "This CRL is older than the one the console holds for this CA (CRL number {new} "
    "against {held}). Upload the CA's newest CRL."
)
CRL_OLDER_BY_DATE = (
    "This CRL is older than the one the console holds for this CA (issued {new} against "
    "{held}). Upload the CA's newest CRL."
)


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked certificate: its serial, when, and why (an RFC 5280 reason name)."""

    serial: int
    revoked_at: datetime
    reason: str = x509.ReasonFlags.unspecified.value

    @property
    def serial_hex(self) -> str:
        return serial_hex(self.serial)


@dataclass(frozen=True)
class CRLInfo:
    """What the console keeps of a CRL it accepted."""

    number: int | None
    this_update: datetime
    next_update: datetime | None
    entries: tuple[RevokedEntry, ...]
    der: bytes

    @property
    def revoked_serials(self) -> frozenset[str]:
        return frozenset(entry.serial_hex for entry in self.entries)


SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def build_crl(
    *,
    issuer: x509.Certificate,
    issuer_key: SigningKey,
    number: int,
    entries: Iterable[RevokedEntry],
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    """A DER CRL signed by `issuer_key`, numbered `number` (numbers only ever grow)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    for entry in entries:
        revoked = (
            x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at)
        )
        # RFC 5280 §5.3.1: the reason code is absent rather than "unspecified".
        if entry.reason != x509.ReasonFlags.unspecified.value:
            revoked = revoked.add_extension(x509.CRLReason(x509.ReasonFlags(entry.reason)), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    crl = builder.sign(issuer_key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """One CRL from PEM or DER bytes; a file holding a private key is refused."""
    if not data or not data.strip():
        raise CertificateError(EMPTY_CRL)
    if len(data) > MAX_CRL_FILE_BYTES:
        raise CertificateError(CRL_TOO_LARGE.format(size=len(data), limit=MAX_CRL_FILE_BYTES))
    if b"PRIVATE KEY" in data:
        raise CertificateError(PRIVATE_KEY_REFUSED)
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data.replace(b"\r\n", b"\n"))
        return x509.load_der_x509_crl(data)
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(NOT_A_CRL) from None


def verify_crl(data: bytes, ca: x509.Certificate, now: datetime) -> CRLInfo:
    """The CRL `data`, checked to be `ca`'s own and current, as the console keeps it."""
    crl = load_crl(data)
    if crl.issuer != ca.subject:
        raise CertificateError(CRL_WRONG_ISSUER.format(issuer=_name(crl.issuer), subject=_name(ca.subject)))
    key = ca.public_key()
    # The console registers only RSA and EC CAs (x509.check_key_strength).
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise CertificateError(CRL_UNKNOWN_SIGNATURE)
    try:
        valid = crl.is_signature_valid(key)
    except (TypeError, ValueError, UnsupportedAlgorithm):
        raise CertificateError(CRL_UNKNOWN_SIGNATURE) from None
    if not valid:
        raise CertificateError(CRL_BAD_SIGNATURE)
    this_update = crl.last_update_utc
    next_update = crl.next_update_utc
    if this_update > now + CLOCK_SKEW:
        raise CertificateError(CRL_NOT_YET_VALID.format(date=_format_date(this_update)))
    if next_update is not None and next_update <= now:
        raise CertificateError(CRL_EXPIRED.format(date=_format_date(next_update)))
    try:
        number = _crl_number(crl)
        entries = tuple(_entry(revoked) for revoked in crl)
    except ValueError:
        raise CertificateError(CRL_MALFORMED) from None
    if number is not None and number > MAX_CRL_NUMBER:
        raise CertificateError(CRL_NUMBER_TOO_LARGE.format(number=number, limit=MAX_CRL_NUMBER))
    return CRLInfo(
        number=number,
        this_update=this_update,
        next_update=next_update,
        entries=entries,
        der=crl.public_bytes(serialization.Encoding.DER),
    )


def check_not_older(new: CRLInfo, *, held_number: int | None, held_this_update: datetime | None) -> None:
    """Refuse a CRL older than the one held: by CRL number when both have one, else by date.

    The same CRL again (same number, same date) is accepted: uploading it twice changes nothing.
    """
    if held_this_update is None:
        return
    if new.number is not None and held_number is not None:
        if new.number < held_number:
            raise CertificateError(CRL_OLDER.format(new=new.number, held=held_number))
        return
    if new.this_update < held_this_update:
        raise CertificateError(
            CRL_OLDER_BY_DATE.format(new=_format_date(new.this_update), held=_format_date(held_this_update))
        )


def read_crl(data: bytes) -> CRLInfo:
    """A CRL the console signed itself, read back (for its number and dates)."""
    crl = load_crl(data)
    return CRLInfo(
        number=_crl_number(crl),
        this_update=crl.last_update_utc,
        next_update=crl.next_update_utc,
        entries=tuple(_entry(revoked) for revoked in crl),
        der=crl.public_bytes(serialization.Encoding.DER),
    )


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def _entry(revoked: x509.RevokedCertificate) -> RevokedEntry:
    try:
        reason = revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        reason = x509.ReasonFlags.unspecified.value
    return RevokedEntry(serial=revoked.serial_number, revoked_at=revoked.revocation_date_utc, reason=reason)


def _name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:
        return "(unreadable)"


def _format_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
