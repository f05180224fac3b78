"""`broker.decisions` on Tencent's Key-device sign-in, as pure code (no database)."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from broker import decisions
from products import bundles

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PSK = "c2l4dGVlbiBieXRlIGtleQ=="
DEVICE = decisions.DeviceRecord(
    product_id="AB12CD34EF",
    product_name="meters",
    device_name="meter_01",
    enabled=True,
    product_forbidden=False,
    uses_certificates=False,
    psk=PSK,
)


def attempt(username: str, password: str) -> decisions.ConnectAttempt:
    return decisions.ConnectAttempt(
        client_id=DEVICE.client_id, username=username, password=password, listener="key"
    )


def username(expiry: str) -> str:
    return f"{DEVICE.client_id};12010126;abcde;{expiry}"


def test_allowed_decision_carries_the_devices_acl():
    name = username(str(int(NOW.timestamp()) + 60))

    decision = decisions.decide(attempt(name, bundles.mqtt_password(name, PSK)), DEVICE, NOW)

    assert decision == decisions.Decision(allowed=True, acl=decisions.device_acl("AB12CD34EF", "meter_01"))


def test_upper_case_hex_digest_is_accepted():
    name = username(str(int(NOW.timestamp()) + 60))
    digest, _, algorithm = bundles.mqtt_password(name, PSK).partition(";")

    assert decisions.decide(attempt(name, f"{digest.upper()};{algorithm}"), DEVICE, NOW).allowed


def test_twelve_digit_expiry_is_seconds_and_thirteen_is_milliseconds():
    far_future_seconds = username("999999999999")  # year 33658: still valid
    milliseconds = username(str(int(NOW.timestamp()) * 1000 - 1))  # a millisecond before now

    assert decisions.decide(
        attempt(far_future_seconds, bundles.mqtt_password(far_future_seconds, PSK)), DEVICE, NOW
    ).allowed
    refused = decisions.decide(attempt(milliseconds, bundles.mqtt_password(milliseconds, PSK)), DEVICE, NOW)
    assert refused.code == decisions.USERNAME_EXPIRED


def test_expiry_exactly_now_is_expired():
    name = username(str(int(NOW.timestamp())))

    assert (
        decisions.decide(attempt(name, bundles.mqtt_password(name, PSK)), DEVICE, NOW).code
        == decisions.USERNAME_EXPIRED
    )


def test_sha1_digest_labelled_sha256_is_wrong():
    name = username(str(int(NOW.timestamp()) + 60))
    digest = bundles.mqtt_password(name, PSK, bundles.HMAC_SHA1).partition(";")[0]

    assert (
        decisions.decide(attempt(name, f"{digest};hmacsha256"), DEVICE, NOW).code == decisions.PASSWORD_WRONG
    )


def test_username_with_five_fields_is_malformed():
    name = username(str(int(NOW.timestamp()) + 60)) + ";extra"

    assert (
        decisions.decide(attempt(name, bundles.mqtt_password(name, PSK)), DEVICE, NOW).code
        == decisions.USERNAME_MALFORMED
    )


def test_credentials_are_checked_before_enabled_and_forbidden():
    """A wrong password on a disabled device says the password is wrong: the state is not told to strangers."""
    disabled = decisions.DeviceRecord(**{**DEVICE.__dict__, "enabled": False, "product_forbidden": True})
    name = username(str(int(NOW.timestamp()) + 60))

    assert decisions.decide(attempt(name, "00;hmacsha256"), disabled, NOW).code == decisions.PASSWORD_WRONG
    good = decisions.decide(attempt(name, bundles.mqtt_password(name, PSK)), disabled, NOW)
    assert good.code == decisions.DEVICE_DISABLED


def test_key_credentials_builder_matches_tencents_formula():
    credentials = bundles.key_credentials(DEVICE.client_id, PSK, 1798761600, connection_id="Qw3rt")

    assert credentials.username == f"{DEVICE.client_id};12010126;Qw3rt;1798761600"
    expected = hmac.new(base64.b64decode(PSK), credentials.username.encode(), hashlib.sha256).hexdigest()
    assert credentials.password == f"{expected};hmacsha256"
