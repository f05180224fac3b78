"""A Host header carrying a scheme (tccli's `--endpoint http://…`) is accepted on the API door only."""

from __future__ import annotations

import json
import time
from urllib.parse import urlparse

import pytest
import requests

from api.models import APIKey
from tests.api_support import JSON_CONTENT_TYPE, VERSION, api_error, tc3_authorization

pytestmark = pytest.mark.django_db(transaction=True)

BODY = json.dumps({"Offset": 0, "Limit": 10}).encode()


@pytest.fixture
def key(user) -> APIKey:
    return APIKey.objects.create(owner=user)


def api_headers(key: APIKey, sent_host: str, signed_host: str) -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "Content-Type": JSON_CONTENT_TYPE,
        "Host": sent_host,
        "X-TC-Action": "DescribeProducts",
        "X-TC-Version": VERSION,
        "X-TC-Timestamp": str(timestamp),
        "Authorization": tc3_authorization(
            secret_id=key.secret_id,
            secret_key=key.secret_key,
            host=signed_host,
            body=BODY,
            timestamp=timestamp,
        ),
    }


def scheme_host(live_server) -> str:
    return f"http://{urlparse(live_server.url).netloc}"


def test_a_host_with_a_scheme_signed_as_sent_is_answered(live_server, key):
    host = scheme_host(live_server)

    response = requests.post(
        f"{live_server.url}/", data=BODY, headers=api_headers(key, host, host), timeout=30
    )

    assert response.status_code == 200
    assert response.json()["Response"]["TotalCount"] == 0


def test_the_signature_covers_the_host_exactly_as_sent(live_server, key):
    # Signed without the scheme, sent with it: not what was signed.
    host = scheme_host(live_server)
    headers = api_headers(key, host, urlparse(live_server.url).netloc)

    response = requests.post(f"{live_server.url}/", data=BODY, headers=headers, timeout=30)

    assert api_error(response) == (
        "AuthFailure.SignatureFailure",
        "The signature does not match: the SecretKey is wrong or the request was changed after signing.",
    )


def test_a_host_with_a_scheme_still_names_an_allowed_host(live_server, key):
    host = "http://attacker.example"

    response = requests.post(
        f"{live_server.url}/", data=BODY, headers=api_headers(key, host, host), timeout=30
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "with_action"),
    [
        ("GET", "/", False),
        ("POST", "/", False),
        ("GET", "/", True),
        ("POST", "/accounts/login/", True),
    ],
)
def test_everywhere_else_a_host_with_a_scheme_is_refused(live_server, method, path, with_action):
    headers = {"Host": scheme_host(live_server)}
    if with_action:
        headers["X-TC-Action"] = "DescribeProducts"

    response = requests.request(
        method, f"{live_server.url}{path}", headers=headers, timeout=30, allow_redirects=False
    )

    assert response.status_code == 400
