"""`POST /` with an X-TC-Action header is the Tencent Cloud API; everything else at `/` is the console."""

from __future__ import annotations

import pytest
import requests

from api.models import APIKey
from products.models import Product
from tests.api_support import signed_headers

pytestmark = pytest.mark.django_db(transaction=True)


def test_get_root_still_redirects_an_anonymous_visitor_to_sign_in(live_server):
    response = requests.get(f"{live_server.url}/", allow_redirects=False, timeout=30)

    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login/?next=/"


def test_get_root_with_an_action_header_is_still_the_console(live_server):
    response = requests.get(
        f"{live_server.url}/", headers={"X-TC-Action": "DescribeProducts"}, allow_redirects=False, timeout=30
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login/?next=/"


def test_get_root_takes_a_signed_in_user_to_the_console(signed_in_client):
    response = signed_in_client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/certificates/"


def test_post_root_without_an_action_header_is_not_the_api(live_server, user):
    # Even a correctly signed request is not answered as the API without X-TC-Action.
    key = APIKey.objects.create(owner=user)
    body = b'{"ProductName": "sensors"}'
    headers = signed_headers(live_server, key, "CreateProduct", body)
    del headers["X-TC-Action"]

    response = requests.post(
        f"{live_server.url}/", data=body, headers=headers, allow_redirects=False, timeout=30
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login/?next=/"
    assert "application/json" not in response.headers.get("Content-Type", "")
    assert not Product.objects.exists()


def test_post_root_without_an_action_header_signed_in_is_the_console(signed_in_client):
    response = signed_in_client.post("/", data=b"{}", content_type="application/json")

    assert response.status_code == 302
    assert response["Location"] == "/certificates/"
    assert not Product.objects.exists()
