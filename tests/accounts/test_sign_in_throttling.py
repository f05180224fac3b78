"""Repeated failed sign-ins lock an account, and an address, for a while (django-axes)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY

from accounts.throttling import SIGN_IN_LOCKED
from api.models import APIKey
from tests.api_support import call, sdk_client

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
RIGHT_PASSWORD = "correct horse battery"
LOCKED_MESSAGE = SIGN_IN_LOCKED.format(minutes=15)


def sign_in(client, username: str, password: str, address: str = "192.0.2.10"):
    return client.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client, username: str, times: int, address: str = "192.0.2.10") -> None:
    for _ in range(times):
        response = sign_in(client, username, "wrong password", address)
        assert response.status_code in (200, 429)
        assert SESSION_KEY not in client.session


def test_settings_lock_after_five_failures_for_fifteen_minutes(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60


def test_four_failures_then_the_right_password_signs_in(client, user):
    fail(client, "alice", 4)

    response = sign_in(client, "alice", RIGHT_PASSWORD)

    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == user.pk
    # A success clears the account's failures.
    assert not AccessAttempt.objects.filter(username="alice", failures_since_start__gt=0).exists()


def test_five_failures_lock_the_account_even_for_the_right_password(client, user):
    fail(client, "alice", 5)

    response = sign_in(client, "alice", RIGHT_PASSWORD)

    assert response.status_code == 429
    assert SESSION_KEY not in client.session
    assert LOCKED_MESSAGE in response.content.decode()
    assert 'name="password"' in response.content.decode()  # still the sign-in page
    assert AccessAttempt.objects.get(username="alice").failures_since_start >= 5


def test_locked_account_is_locked_from_another_address_too(client, user):
    fail(client, "alice", 5, address="192.0.2.10")

    response = sign_in(client, "alice", RIGHT_PASSWORD, address="198.51.100.7")

    assert response.status_code == 429
    assert SESSION_KEY not in client.session
    assert LOCKED_MESSAGE in response.content.decode()


def test_another_account_elsewhere_is_unaffected(client, user, other_user):
    fail(client, "alice", 6)

    response = sign_in(client, "mallory", "another long password", address="198.51.100.7")

    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == other_user.pk


def test_failures_from_one_address_lock_that_address(client, user, other_user):
    # Guessing across accounts from one address: the address is locked.
    for name in ("u1", "u2", "u3", "u4", "u5"):
        sign_in(client, name, "guess")

    response = sign_in(client, "mallory", "another long password")

    assert response.status_code == 429
    assert SESSION_KEY not in client.session
    assert LOCKED_MESSAGE in response.content.decode()


def test_lock_ends_after_the_cool_off(client, user, settings):
    fail(client, "alice", 5)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME
    )

    response = sign_in(client, "alice", RIGHT_PASSWORD)

    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == user.pk


def test_behind_the_proxy_the_forwarded_address_is_counted(client, user, other_user, settings):
    settings.IOTHUB_BEHIND_TLS_PROXY = True
    for _ in range(5):
        client.post(
            LOGIN_URL,
            {"username": f"guess{_}", "password": "x"},
            REMOTE_ADDR="10.0.0.1",
            headers={"X-Forwarded-For": "203.0.113.9"},
        )

    # Another client behind the same proxy is not locked out by that address.
    response = client.post(
        LOGIN_URL,
        {"username": "mallory", "password": "another long password"},
        REMOTE_ADDR="10.0.0.1",
        headers={"X-Forwarded-For": "203.0.113.77"},
    )

    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == other_user.pk


def test_the_api_door_is_not_throttled_by_sign_in_failures(client, live_server, user):
    fail(client, "alice", 6, address="127.0.0.1")
    key = APIKey.objects.create(owner=user)

    response = call(
        sdk_client(live_server.url, key.secret_id, key.secret_key),
        "DescribeProducts",
        {"Offset": 0, "Limit": 10},
    )

    assert response["TotalCount"] == 0
