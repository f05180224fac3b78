"""Who may connect to the broker, and to which topics: the console's decision, as pure code.

Nothing here imports Django. The broker endpoint reads what a decision needs
(`DeviceRecord`, by `broker.selectors`) and hands it here with what the client
presented (`ConnectAttempt`); `decide` answers with a `Decision`: allowed with the
device's topic list, or refused with a sentence a user can act on and a stable code.
Certificates are checked with `certificates.x509`, Key passwords with the same HMAC
function that writes them (`products.bundles.mqtt_password`).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from cryptography import x509 as cx509

from certificates import x509
from products import bundles

PRODUCT_ID_LENGTH = 10
_PRODUCT_ID = re.compile(r"[A-Z0-9]{10}")
_DEVICE_NAME = re.compile(r"[A-Za-z0-9_\-:]{1,48}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]+")
MILLISECOND_EXPIRY_DIGITS = 13

LISTENER_CERTIFICATE = "certificate"
LISTENER_KEY = "key"
LISTENERS = (LISTENER_CERTIFICATE, LISTENER_KEY)

# Stable codes the broker logs and tests match; the reasons are what a user reads.
CLIENT_ID_MALFORMED = "client_id_malformed"
DEVICE_NOT_FOUND = "device_not_found"
CERTIFICATE_REQUIRED = "certificate_required"
KEY_REQUIRED = "key_required"
CERTIFICATE_MISSING = "certificate_missing"
CERTIFICATE_UNREADABLE = "certificate_unreadable"
CERTIFICATE_NAME_MISMATCH = "certificate_name_mismatch"
CERTIFICATE_WRONG_CA = "certificate_wrong_ca"
CERTIFICATE_NOT_REGISTERED = "certificate_not_registered"
CERTIFICATE_NOT_VALID = "certificate_not_valid"
CERTIFICATE_REVOKED = "certificate_revoked"
USERNAME_MALFORMED = "username_malformed"
USERNAME_WRONG_CLIENT = "username_wrong_client"
USERNAME_EXPIRED = "username_expired"
PASSWORD_MALFORMED = "password_malformed"  # noqa: S105  (a code, not a secret)
PASSWORD_WRONG = "password_wrong"  # noqa: S105  (a code, not a secret)
DEVICE_DISABLED = "device_disabled"
PRODUCT_FORBIDDEN = "product_forbidden"

CLIENT_ID_MALFORMED_REASON = (
    "The client id must be the Product ID (10 characters) followed by the device name, "
    'such as "AB12CD34EFdev_01"; "{client_id}" is not.'
)
DEVICE_NOT_FOUND_REASON = 'There is no device "{name}" in product {product_id}.'
CERTIFICATE_REQUIRED_REASON = (
    "This device authenticates with a certificate: connect to the broker's certificate "
    "port with the device certificate and key from its bundle."
)
KEY_REQUIRED_REASON = (
    "This device authenticates with a key: connect to the broker's Key port with the "
    "username and password from its bundle or from Generate Credentials."
)
CERTIFICATE_MISSING_REASON = "The client presented no certificate."
CERTIFICATE_UNREADABLE_REASON = "The client's certificate cannot be read: {detail}"
CERTIFICATE_NAME_MISMATCH_REASON = (
    'The certificate\'s Common Name is "{actual}", but this device\'s client id is "{expected}".'
)
CERTIFICATE_WRONG_CA_REASON = "The certificate was not issued by this product's CA ({ca}): {detail}"
CERTIFICATE_NOT_REGISTERED_REASON = (
    "The certificate is not the one registered for this device (SHA-256 {fingerprint}); "
    "it may have been replaced. Connect with the device's current certificate."
)
CERTIFICATE_NOT_VALID_REASON = "The device certificate is not valid now: {detail}"
CERTIFICATE_REVOKED_REASON = (
    "The certificate (serial {serial}) was revoked on {date} ({reason}). "
    "Renew the device's certificate on its page and connect with the new one."
)
USERNAME_MALFORMED_REASON = (
    "The username must be <ProductId><DeviceName>;<sdkappid>;<connid>;<expiry> with the expiry "
    "a Unix time; use the one from the device's bundle or from Generate Credentials."
)
USERNAME_WRONG_CLIENT_REASON = 'The username is for "{actual}", but the client id is "{expected}".'
USERNAME_EXPIRED_REASON = "The username expired on {date}. Generate new credentials."
PASSWORD_MALFORMED_REASON = "The password must be <hex HMAC>;hmacsha256 or <hex HMAC>;hmacsha1."  # noqa: S105
PASSWORD_WRONG_REASON = (
    "The password does not match the username and the device's key. Generate new credentials "  # noqa: S105
    "from the device's key."
)
DEVICE_DISABLED_REASON = 'The device "{name}" is disabled. Enable it on its page to let it connect.'
PRODUCT_FORBIDDEN_REASON = 'The product "{product}" is forbidden: none of its devices may connect.'


@dataclass(frozen=True)
class Revocation:
    """A certificate of the device that was revoked, by its SHA-256 fingerprint."""

    fingerprint: str
    serial: str
    reason: str  # as a user reads it: "Key compromise"
    revoked_at: datetime


@dataclass(frozen=True)
class DeviceRecord:
    """What the console knows about one device that a connection decision needs."""

    product_id: str
    product_name: str
    device_name: str
    enabled: bool
    product_forbidden: bool
    uses_certificates: bool
    # The CA the device's certificate must be issued by: the product's own CA (which
    # may be an intermediate, registered as such) or the Platform device CA.
    ca_name: str = ""
    ca_pem: str = ""
    # The SHA-256 fingerprints of the certificates the device may present.
    certificate_fingerprints: tuple[str, ...] = ()
    psk: str = ""
    # During a CA rollover, the product's second CA: certificates of either are accepted.
    second_ca_name: str = ""
    second_ca_pem: str = ""
    revocations: tuple[Revocation, ...] = ()

    @property
    def client_id(self) -> str:
        return f"{self.product_id}{self.device_name}"


@dataclass(frozen=True)
class ConnectAttempt:
    """What a client presented, as the broker reports it."""

    client_id: str
    username: str | None = None
    password: str | None = None
    listener: str | None = None  # None: "certificate" when a certificate came, else "key"
    cert_pem: str | None = None

    @property
    def effective_listener(self) -> str:
        if self.listener in LISTENERS:
            return self.listener
        return LISTENER_CERTIFICATE if self.cert_pem else LISTENER_KEY


@dataclass(frozen=True)
class AclRule:
    action: str  # "all", "publish" or "subscribe"
    topic: str
    permission: str = "allow"

    def as_dict(self) -> dict[str, str]:
        return {"permission": self.permission, "action": self.action, "topic": self.topic}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    code: str = ""
    acl: tuple[AclRule, ...] = field(default_factory=tuple)


def refused(code: str, reason: str) -> Decision:
    return Decision(allowed=False, reason=reason, code=code)


def split_client_id(client_id: str) -> tuple[str, str] | None:
    """(Product ID, device name) of a well-formed client id, else None."""
    product_id, name = client_id[:PRODUCT_ID_LENGTH], client_id[PRODUCT_ID_LENGTH:]
    if _PRODUCT_ID.fullmatch(product_id) and _DEVICE_NAME.fullmatch(name):
        return product_id, name
    return None


def device_acl(product_id: str, device_name: str) -> tuple[AclRule, ...]:
    """The topics of one device: its own prefix and Tencent's per-device system topics."""
    device = f"{product_id}/{device_name}"
    return (
        AclRule("all", f"{device}/#"),
        AclRule("publish", f"$shadow/operation/{device}"),
        AclRule("publish", f"$ota/report/{device}"),
        AclRule("publish", f"$sys/operation/{device}"),
        AclRule("publish", f"$rrpc/txd/{device}/+"),
        AclRule("subscribe", f"$shadow/operation/result/{device}"),
        AclRule("subscribe", f"$ota/update/{device}"),
        AclRule("subscribe", f"$sys/operation/result/{device}"),
        AclRule("subscribe", f"$rrpc/rxd/{device}/+"),
        AclRule("subscribe", f"$broadcast/rxd/{device}"),
    )


def topic_allowed(acl: tuple[AclRule, ...], topic: str, action: str) -> bool:
    """True when a concrete topic (publish) or a filter (subscribe) is covered by the ACL.

    The same rule the Mosquitto plugin applies locally, for brokers such as EMQX that
    ask the console instead.
    """
    wanted = ("publish", "all") if action == "publish" else ("subscribe", "all")
    return any(rule.action in wanted and filter_covers(rule.topic, topic) for rule in acl)


def filter_covers(acl_filter: str, topic: str) -> bool:
    """Level by level: '#' covers the rest, '+' one level that is not '#', literals equal."""
    allowed, asked = acl_filter.split("/"), topic.split("/")
    for index, level in enumerate(allowed):
        if level == "#":
            return True
        if index >= len(asked):
            return False
        if level == "+":
            if asked[index] == "#":
                return False
        elif level != asked[index]:
            return False
    return len(asked) == len(allowed)


def decide(attempt: ConnectAttempt, device: DeviceRecord | None, now: datetime) -> Decision:  # noqa: PLR0911
    """May this client connect? `device` is the one its client id names, or None."""
    parts = split_client_id(attempt.client_id)
    if parts is None:
        return refused(CLIENT_ID_MALFORMED, CLIENT_ID_MALFORMED_REASON.format(client_id=attempt.client_id))
    if device is None:
        product_id, name = parts
        return refused(DEVICE_NOT_FOUND, DEVICE_NOT_FOUND_REASON.format(name=name, product_id=product_id))
    listener = attempt.effective_listener
    if device.uses_certificates and listener != LISTENER_CERTIFICATE:
        return refused(CERTIFICATE_REQUIRED, CERTIFICATE_REQUIRED_REASON)
    if not device.uses_certificates and listener != LISTENER_KEY:
        return refused(KEY_REQUIRED, KEY_REQUIRED_REASON)
    credential_refusal = (
        _check_certificate(attempt, device, now)
        if device.uses_certificates
        else _check_key(attempt, device, now)
    )
    if credential_refusal is not None:
        return credential_refusal
    if not device.enabled:
        return refused(DEVICE_DISABLED, DEVICE_DISABLED_REASON.format(name=device.device_name))
    if device.product_forbidden:
        return refused(PRODUCT_FORBIDDEN, PRODUCT_FORBIDDEN_REASON.format(product=device.product_name))
    return Decision(allowed=True, acl=device_acl(device.product_id, device.device_name))


def _check_certificate(  # noqa: PLR0911  (one refusal per rule)
    attempt: ConnectAttempt, device: DeviceRecord, now: datetime
) -> Decision | None:
    if not attempt.cert_pem:
        return refused(CERTIFICATE_MISSING, CERTIFICATE_MISSING_REASON)
    try:
        leaf = x509.load_certificate(attempt.cert_pem.encode("utf-8", "replace"))
    except x509.CertificateError as error:
        return refused(CERTIFICATE_UNREADABLE, CERTIFICATE_UNREADABLE_REASON.format(detail=error.message))
    actual = x509.common_name(leaf.subject)
    if actual != device.client_id:
        return refused(
            CERTIFICATE_NAME_MISMATCH,
            CERTIFICATE_NAME_MISMATCH_REASON.format(actual=actual, expected=device.client_id),
        )
    wrong_ca = _check_issuer(leaf, device)
    if wrong_ca is not None:
        return wrong_ca
    fingerprint = x509.fingerprint_sha256(leaf)
    revocation = next((item for item in device.revocations if item.fingerprint == fingerprint), None)
    if revocation is not None:
        return refused(
            CERTIFICATE_REVOKED,
            CERTIFICATE_REVOKED_REASON.format(
                serial=revocation.serial,
                date=revocation.revoked_at.strftime("%Y-%m-%d %H:%M UTC"),
                reason=revocation.reason.lower(),
            ),
        )
    if fingerprint not in device.certificate_fingerprints:
        return refused(
            CERTIFICATE_NOT_REGISTERED, CERTIFICATE_NOT_REGISTERED_REASON.format(fingerprint=fingerprint)
        )
    try:
        x509.check_validity(leaf, now, "device certificate")
    except x509.CertificateError as error:
        return refused(CERTIFICATE_NOT_VALID, CERTIFICATE_NOT_VALID_REASON.format(detail=error.message))
    return None


def _check_issuer(leaf: cx509.Certificate, device: DeviceRecord) -> Decision | None:
    """Issued by the product's CA, or by its second CA during a rollover."""
    authorities = [(device.ca_name, device.ca_pem)]
    if device.second_ca_pem:
        authorities.append((device.second_ca_name, device.second_ca_pem))
    first_refusal = None
    for name, pem in authorities:
        try:
            x509.verify_issued_by(leaf, _ca_certificate(pem), "device certificate")
        except (x509.CertificateError, ValueError) as error:
            detail = error.message if isinstance(error, x509.CertificateError) else "the CA cannot be read."
            first_refusal = first_refusal or refused(
                CERTIFICATE_WRONG_CA, CERTIFICATE_WRONG_CA_REASON.format(ca=name, detail=detail)
            )
        else:
            return None
    return first_refusal


@lru_cache(maxsize=256)
def _ca_certificate(pem: str) -> cx509.Certificate:
    """A product CA, parsed once per process: every connect of its devices needs it."""
    if not pem:
        raise ValueError("no CA")
    return x509.load_certificate(pem.encode("ascii"))


def _check_key(  # noqa: PLR0911  (one refusal per rule)
    attempt: ConnectAttempt, device: DeviceRecord, now: datetime
) -> Decision | None:
    username, password = attempt.username or "", attempt.password or ""
    fields = username.split(";")
    if len(fields) != 4 or not fields[3].isascii() or not fields[3].isdigit():
        return refused(USERNAME_MALFORMED, USERNAME_MALFORMED_REASON)
    if fields[0] != device.client_id:
        return refused(
            USERNAME_WRONG_CLIENT,
            USERNAME_WRONG_CLIENT_REASON.format(actual=fields[0], expected=device.client_id),
        )
    expiry = int(fields[3])
    if len(fields[3]) >= MILLISECOND_EXPIRY_DIGITS:
        expiry //= 1000  # Tencent's Python SDK sends milliseconds
    if expiry <= now.timestamp():
        return refused(USERNAME_EXPIRED, USERNAME_EXPIRED_REASON.format(date=_format_expiry(expiry)))
    digest, _, algorithm = password.partition(";")
    if algorithm not in bundles.HMAC_ALGORITHMS or not _HEX_DIGEST.fullmatch(digest):
        return refused(PASSWORD_MALFORMED, PASSWORD_MALFORMED_REASON)
    try:
        expected = bundles.mqtt_password(username, device.psk, algorithm)
    except ValueError:
        return refused(PASSWORD_WRONG, PASSWORD_WRONG_REASON)
    if not hmac.compare_digest(expected.encode("ascii"), f"{digest.lower()};{algorithm}".encode("ascii")):
        return refused(PASSWORD_WRONG, PASSWORD_WRONG_REASON)
    return None


def _format_expiry(expiry: int) -> str:
    try:
        return datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return str(expiry)
