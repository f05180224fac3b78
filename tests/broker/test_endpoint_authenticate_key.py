"""POST /broker/v1/authenticate for Key devices: Tencent's HMAC username and password."""

import time
from datetime import UTC, datetime

import pytest

from broker import decisions
from products import bundles, services
from products.models import Device

from .link_service import authenticate, key_device, key_login, platform_device

pytestmark = pytest.mark.django_db


def assert_refused(answer: dict, device: Device, code: str, reason: str) -> None:
    assert answer == {"result": "deny", "reason": reason, "code": code}
    device.refresh_from_db()
    assert device.last_refusal_reason == reason
    assert device.last_refused_at is not None


def test_hmac_sha256_password_is_accepted(client, user):
    device = key_device(user)

    answer = authenticate(client, **key_login(device))

    assert answer["result"] == "allow"
    assert {
        "permission": "allow",
        "action": "all",
        "topic": f"{device.product.product_id}/{device.name}/#",
    } in answer["acl"]


def test_hmac_sha1_password_is_accepted(client, user):
    device = key_device(user)

    assert authenticate(client, **key_login(device, algorithm=bundles.HMAC_SHA1))["result"] == "allow"


def test_user_supplied_psk_signs_the_password(client, user):
    device = key_device(user, psk="c2VjcmV0LWtleS1mb3ItdGVzdHM=")

    assert authenticate(client, **key_login(device))["result"] == "allow"


def test_expiry_in_milliseconds_is_accepted(client, user):
    """Tencent's Python SDK sends a 13-digit expiry: milliseconds."""
    device = key_device(user)
    expiry_ms = (int(time.time()) + 600) * 1000

    assert authenticate(client, **key_login(device, expiry=expiry_ms))["result"] == "allow"


def test_expired_millisecond_expiry_is_refused(client, user):
    device = key_device(user)
    expiry_ms = (int(time.time()) - 60) * 1000

    answer = authenticate(client, **key_login(device, expiry=expiry_ms))

    date = datetime.fromtimestamp(expiry_ms // 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert_refused(
        answer, device, decisions.USERNAME_EXPIRED, decisions.USERNAME_EXPIRED_REASON.format(date=date)
    )


def test_expired_username_is_refused(client, user):
    device = key_device(user)
    expiry = int(time.time()) - 1

    answer = authenticate(client, **key_login(device, expiry=expiry))

    date = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert_refused(
        answer, device, decisions.USERNAME_EXPIRED, decisions.USERNAME_EXPIRED_REASON.format(date=date)
    )


def test_wrong_password_is_refused(client, user):
    device = key_device(user)
    login = key_login(device)
    digest, _, algorithm = login["password"].partition(";")
    login["password"] = f"{'0' * len(digest)};{algorithm}"

    answer = authenticate(client, **login)

    assert_refused(answer, device, decisions.PASSWORD_WRONG, decisions.PASSWORD_WRONG_REASON)


def test_password_of_another_devices_key_is_refused(client, user):
    device = key_device(user)
    other = services.create_device(
        product=device.product, name="meter_02", credentials=services.DeviceCredentials()
    )
    login = key_login(device)
    login["password"] = bundles.mqtt_password(login["username"], other.psk)

    answer = authenticate(client, **login)

    assert_refused(answer, device, decisions.PASSWORD_WRONG, decisions.PASSWORD_WRONG_REASON)


def test_password_made_before_a_changed_expiry_is_refused(client, user):
    """The HMAC covers the username: stretching the expiry invalidates the password."""
    device = key_device(user)
    login = key_login(device)
    fields = login["username"].split(";")
    login["username"] = ";".join([*fields[:3], str(int(fields[3]) + 10**6)])

    answer = authenticate(client, **login)

    assert_refused(answer, device, decisions.PASSWORD_WRONG, decisions.PASSWORD_WRONG_REASON)


@pytest.mark.parametrize("password", [None, "", "abc", "abcdef;md5", "not-hex;hmacsha256"])
def test_malformed_password_is_refused(client, user, password):
    device = key_device(user)
    login = key_login(device)
    login["password"] = password

    answer = authenticate(client, **login)

    assert_refused(answer, device, decisions.PASSWORD_MALFORMED, decisions.PASSWORD_MALFORMED_REASON)


@pytest.mark.parametrize(
    "username", [None, "", "a;b;c", "{client};12010126;abcde;soon", "{client};12010126;abcde;１２３"]
)
def test_malformed_username_is_refused(client, user, username):
    device = key_device(user)
    login = key_login(device)
    login["username"] = username.format(client=device.client_id) if username else username

    answer = authenticate(client, **login)

    assert_refused(answer, device, decisions.USERNAME_MALFORMED, decisions.USERNAME_MALFORMED_REASON)


def test_wrong_client_id_is_refused(client, user):
    """A username made for one device cannot sign in another device's client id."""
    device = key_device(user)
    other = services.create_device(
        product=device.product, name="meter_02", credentials=services.DeviceCredentials()
    )
    login = key_login(device)
    login["clientid"] = other.client_id

    answer = authenticate(client, **login)

    reason = decisions.USERNAME_WRONG_CLIENT_REASON.format(actual=device.client_id, expected=other.client_id)
    assert_refused(answer, other, decisions.USERNAME_WRONG_CLIENT, reason)


def test_key_device_on_the_certificate_listener_is_refused(client, user):
    device = key_device(user)
    login = key_login(device)
    login["listener"] = "certificate"

    answer = authenticate(client, **login)

    assert_refused(answer, device, decisions.KEY_REQUIRED, decisions.KEY_REQUIRED_REASON)


def test_key_listener_is_inferred_without_a_certificate(client, user):
    device = key_device(user)
    login = key_login(device)
    del login["listener"]

    assert authenticate(client, **login)["result"] == "allow"


def test_certificate_device_cannot_sign_in_with_a_password(client, user):
    device = platform_device(user)
    login = {
        "clientid": device.client_id,
        "username": f"{device.client_id};12010126;abcde;4102444800",
        "password": "00;hmacsha256",
    }

    answer = authenticate(client, **login)

    assert_refused(answer, device, decisions.CERTIFICATE_REQUIRED, decisions.CERTIFICATE_REQUIRED_REASON)


def test_disabled_key_device_is_refused(client, user):
    device = key_device(user)
    services.set_devices_enabled(product=device.product, names=[device.name], enabled=False)

    answer = authenticate(client, **key_login(device))

    reason = decisions.DEVICE_DISABLED_REASON.format(name=device.name)
    assert_refused(answer, device, decisions.DEVICE_DISABLED, reason)


def test_changed_psk_refuses_the_old_password(client, user):
    device = key_device(user)
    old_login = key_login(device)
    services.update_device_psk(device=device, psk="bmV3LWtleS1mb3ItbWV0ZXI=")

    answer = authenticate(client, **old_login)

    assert_refused(answer, device, decisions.PASSWORD_WRONG, decisions.PASSWORD_WRONG_REASON)
    device.refresh_from_db()
    assert authenticate(client, **key_login(device))["result"] == "allow"
