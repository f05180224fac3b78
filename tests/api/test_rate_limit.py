"""Each API key may send at most IOTHUB_API_RATE_LIMIT requests per second per action."""

from __future__ import annotations

import json

import pytest

from api import limits
from api.models import APIKey
from products.models import Product
from tests.api_support import api_error, signed_post

pytestmark = pytest.mark.django_db(transaction=True)

LIST_BODY = json.dumps({"Offset": 0, "Limit": 10}).encode()


def limited(action: str, limit: int) -> tuple[str, str]:
    return (
        "RequestLimitExceeded",
        f"Too many {action} requests with this SecretId: at most {limit} per second. Wait a moment and retry.",
    )


@pytest.fixture
def clock(monkeypatch):
    """The API's counting window, held on one second until the test moves it."""
    second = {"now": limits.current_second()}
    monkeypatch.setattr(limits, "current_second", lambda: second["now"])
    return second


@pytest.fixture
def three_per_second(settings):
    settings.IOTHUB_API_RATE_LIMIT = 3


@pytest.fixture
def key(user) -> APIKey:
    return APIKey.objects.create(owner=user)


def answered(response) -> bool:
    return "Error" not in response.json()["Response"]


def test_the_request_over_the_limit_in_one_second_is_refused(live_server, key, clock, three_per_second):
    for _ in range(3):
        assert answered(signed_post(live_server, key, "DescribeProducts", LIST_BODY))

    assert api_error(signed_post(live_server, key, "DescribeProducts", LIST_BODY)) == limited(
        "DescribeProducts", 3
    )


def test_the_next_second_starts_a_new_count(live_server, key, clock, three_per_second):
    for _ in range(4):
        signed_post(live_server, key, "DescribeProducts", LIST_BODY)

    clock["now"] += 1

    assert answered(signed_post(live_server, key, "DescribeProducts", LIST_BODY))


def test_the_limit_is_per_action_and_per_key(live_server, user, key, clock, three_per_second):
    for _ in range(4):
        signed_post(live_server, key, "DescribeProducts", LIST_BODY)
    other_key = APIKey.objects.create(owner=user)

    assert answered(signed_post(live_server, key, "DescribePrivateCAs", b"{}"))
    assert answered(signed_post(live_server, other_key, "DescribeProducts", LIST_BODY))


def test_a_refused_change_changes_nothing(live_server, user, key, clock, settings):
    settings.IOTHUB_API_RATE_LIMIT = 1
    first = json.dumps({"ProductName": "first", "ProductProperties": {"EncryptionType": "2"}}).encode()
    second = json.dumps({"ProductName": "second", "ProductProperties": {"EncryptionType": "2"}}).encode()
    assert answered(signed_post(live_server, key, "CreateProduct", first))

    assert api_error(signed_post(live_server, key, "CreateProduct", second)) == limited("CreateProduct", 1)
    assert list(Product.objects.filter(owner=user).values_list("name", flat=True)) == ["first"]


def test_by_default_the_limit_is_the_references_twenty(live_server, key, clock):
    for _ in range(20):
        assert answered(signed_post(live_server, key, "DescribePrivateCAs", b"{}"))

    assert api_error(signed_post(live_server, key, "DescribePrivateCAs", b"{}")) == limited(
        "DescribePrivateCAs", 20
    )
