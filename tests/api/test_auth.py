"""Only requests signed (TC3-HMAC-SHA256) by an enabled API key, recently, reach the actions."""

from __future__ import annotations

import json
import time
import types
import uuid

import pytest
from tencentcloud.common import abstract_client

from api.models import APIKey
from certificates.models import CACertificate
from products.models import Product
from tests import pki
from tests.api_support import (
    api_error,
    build,
    post,
    refusal,
    register_ca,
    signed_headers,
    signed_post,
)
from tests.tencent_sdk import models, sdk_client

pytestmark = pytest.mark.django_db(transaction=True)

SIGNATURE_MISMATCH = (
    "The signature does not match: the SecretKey is wrong or the request was changed after signing."
)
SECRET_ID_NOT_FOUND = "The SecretId does not exist or is disabled. Check it on the console's API Keys page."
SIGNATURE_EXPIRED = (
    "The request's X-TC-Timestamp is more than 5 minutes away from the server's clock; "
    "check the client's clock and sign again."
)


@pytest.fixture
def key(user) -> APIKey:
    return APIKey.objects.create(owner=user)


def describe_products(client):
    return client.DescribeProducts(build(models.DescribeProductsRequest, Offset=0, Limit=10))


def test_the_sdk_signs_with_a_valid_key_and_is_answered(live_server, key):
    response = describe_products(sdk_client(live_server.url, key.secret_id, key.secret_key))

    assert response.TotalCount == 0
    assert response.Products == []
    assert uuid.UUID(response.RequestId)


def test_a_request_signed_by_our_own_signer_is_answered(live_server, key):
    # The same algorithm, written from the reference, gives the signature the server expects.
    body = json.dumps({"Offset": 0, "Limit": 10}).encode()

    response = signed_post(live_server, key, "DescribeProducts", body)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    payload = response.json()["Response"]
    assert payload["TotalCount"] == 0
    assert payload["Products"] == []
    assert uuid.UUID(payload["RequestId"])


def test_the_sdks_unsigned_payload_option_is_answered(live_server, key):
    client = sdk_client(live_server.url, key.secret_id, key.secret_key)
    client.profile.unsignedPayload = True

    assert describe_products(client).TotalCount == 0


def test_wrong_secret_key_is_a_signature_failure(live_server, key):
    client = sdk_client(live_server.url, key.secret_id, "x" * 32)

    error = refusal(lambda: describe_products(client))

    assert (error.code, error.message) == ("AuthFailure.SignatureFailure", SIGNATURE_MISMATCH)
    assert APIKey.objects.get(pk=key.pk).last_used is None


def test_wrong_secret_key_is_refused_before_any_change(live_server, key):
    client = sdk_client(live_server.url, key.secret_id, key.secret_key[::-1])

    error = refusal(lambda: client.CreateProduct(build(models.CreateProductRequest, ProductName="intruder")))

    assert error.code == "AuthFailure.SignatureFailure"
    assert not Product.objects.exists()


def test_a_body_changed_after_signing_is_a_signature_failure(live_server, key):
    signed_body = json.dumps({"ProductName": "sensors"}).encode()
    headers = signed_headers(live_server, key, "CreateProduct", signed_body)
    tampered_body = signed_body.replace(b"sensors", b"sensorz")
    assert len(tampered_body) == len(signed_body) and tampered_body != signed_body

    response = post(live_server, headers, tampered_body)

    assert api_error(response) == ("AuthFailure.SignatureFailure", SIGNATURE_MISMATCH)
    assert not Product.objects.exists()
    # The untouched request, with the same headers, is accepted: only the change was refused.
    accepted = post(live_server, headers, signed_body)
    assert accepted.json()["Response"]["ProductName"] == "sensors"
    assert list(Product.objects.values_list("name", flat=True)) == ["sensors"]


def test_a_signature_made_with_one_key_does_not_pass_for_another_secret_id(live_server, key, other_user):
    other = APIKey.objects.create(owner=other_user)
    body = b"{}"
    headers = signed_headers(live_server, key, "DescribePrivateCAs", body)
    headers["Authorization"] = headers["Authorization"].replace(key.secret_id, other.secret_id)

    assert api_error(post(live_server, headers, body)) == ("AuthFailure.SignatureFailure", SIGNATURE_MISMATCH)


def test_a_changed_host_is_a_signature_failure(live_server, key):
    body = b"{}"
    headers = signed_headers(live_server, key, "DescribePrivateCAs", body)
    headers["Host"] = headers["Host"].replace("localhost", "127.0.0.1")

    assert api_error(post(live_server, headers, body)) == ("AuthFailure.SignatureFailure", SIGNATURE_MISMATCH)


def test_a_stale_timestamp_from_the_sdk_is_a_signature_expire(live_server, key, monkeypatch):
    # Only the SDK's clock runs six minutes late; the server (same process) keeps the real one.
    real_time = time.time
    monkeypatch.setattr(abstract_client, "time", types.SimpleNamespace(time=lambda: real_time() - 360))
    client = sdk_client(live_server.url, key.secret_id, key.secret_key)

    error = refusal(lambda: describe_products(client))

    assert (error.code, error.message) == ("AuthFailure.SignatureExpire", SIGNATURE_EXPIRED)


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_hand_signed_timestamp_over_five_minutes_away_is_a_signature_expire(live_server, key, offset):
    body = b"{}"

    response = signed_post(live_server, key, "DescribePrivateCAs", body, timestamp=int(time.time()) + offset)

    assert api_error(response) == ("AuthFailure.SignatureExpire", SIGNATURE_EXPIRED)


def test_a_timestamp_within_five_minutes_is_accepted(live_server, key):
    response = signed_post(live_server, key, "DescribePrivateCAs", b"{}", timestamp=int(time.time()) - 240)

    assert response.json()["Response"]["CAs"] == []


def test_unknown_secret_id_is_secret_id_not_found(live_server, key):
    client = sdk_client(live_server.url, "AKID" + "0" * 32, key.secret_key)

    error = refusal(lambda: describe_products(client))

    assert (error.code, error.message) == ("AuthFailure.SecretIdNotFound", SECRET_ID_NOT_FOUND)


def test_disabled_key_is_secret_id_not_found(live_server, key):
    key.enabled = False
    key.save()
    client = sdk_client(live_server.url, key.secret_id, key.secret_key)

    error = refusal(lambda: describe_products(client))

    assert (error.code, error.message) == ("AuthFailure.SecretIdNotFound", SECRET_ID_NOT_FOUND)
    assert APIKey.objects.get(pk=key.pk).last_used is None


def test_key_of_a_deactivated_account_is_secret_id_not_found(live_server, key, user):
    user.is_active = False
    user.save()
    client = sdk_client(live_server.url, key.secret_id, key.secret_key)

    error = refusal(lambda: describe_products(client))

    assert (error.code, error.message) == ("AuthFailure.SecretIdNotFound", SECRET_ID_NOT_FOUND)


def test_deleted_key_is_secret_id_not_found(live_server, key):
    client = sdk_client(live_server.url, key.secret_id, key.secret_key)
    key.delete()

    assert refusal(lambda: describe_products(client)).code == "AuthFailure.SecretIdNotFound"


def test_unsigned_request_is_refused(live_server, key):
    body = b"{}"
    headers = signed_headers(live_server, key, "DescribePrivateCAs", body)
    del headers["Authorization"]

    code, message = api_error(post(live_server, headers, body))

    assert code == "AuthFailure.SignatureFailure"
    assert message == "The request is not signed: the Authorization header is missing."


def test_malformed_authorization_is_refused(live_server, key):
    body = b"{}"
    headers = signed_headers(live_server, key, "DescribePrivateCAs", body)
    headers["Authorization"] = "Basic dXNlcjpwYXNz"

    code, _ = api_error(post(live_server, headers, body))

    assert code == "AuthFailure.InvalidAuthorization"


def test_signature_for_another_service_is_refused(live_server, key):
    body = b"{}"
    headers = signed_headers(live_server, key, "DescribePrivateCAs", body)
    headers["Authorization"] = headers["Authorization"].replace("/iotcloud/", "/cvm/")

    code, message = api_error(post(live_server, headers, body))

    assert code == "AuthFailure.SignatureFailure"
    assert "iotcloud/tc3_request" in message


def test_a_signed_call_records_when_the_key_was_last_used(live_server, key):
    assert key.last_used is None

    describe_products(sdk_client(live_server.url, key.secret_id, key.secret_key))

    assert APIKey.objects.get(pk=key.pk).last_used is not None


def test_a_refused_signature_changes_nothing(live_server, key, user):
    register_ca(user, pki.make_ca("Kept CA"), "kept")
    client = sdk_client(live_server.url, key.secret_id, "wrong" * 6 + "xx")

    error = refusal(lambda: client.DeletePrivateCA(build(models.DeletePrivateCARequest, CertName="kept")))

    assert error.code == "AuthFailure.SignatureFailure"
    assert list(CACertificate.objects.values_list("name", flat=True)) == ["kept"]


@pytest.mark.parametrize("timestamp", ["", "soon", "\u00b2", "9" * 5000, "-1"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused_not_a_500(live_server, key, timestamp):
    # "²" passes str.isdigit() but not int(); int() refuses more than 4,300 digits.
    body = b"{}"
    headers = signed_headers(live_server, key, "DescribePrivateCAs", body)
    headers["X-TC-Timestamp"] = timestamp.encode("latin-1")

    assert api_error(post(live_server, headers, body)) == (
        "AuthFailure.InvalidAuthorization",
        "The X-TC-Timestamp header must be a Unix time in seconds.",
    )
