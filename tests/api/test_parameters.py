"""The API's envelope and parameter checks: version, action, body, missing, unknown and mistyped fields.

Every answer, success or refusal, is HTTP 200 with a JSON `Response` carrying a
RequestId (a UUID); no input, however malformed, produces a 500.
"""

from __future__ import annotations

import json
import uuid

import pytest

from api.models import APIKey
from iothub_console.validators import CONTROL_CHARACTERS_REFUSED
from products.models import Product
from tests.api_support import (
    api_error,
    build,
    call,
    create_product,
    refusal,
    signed_post,
)
from tests.tencent_sdk import models, sdk_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key(user) -> APIKey:
    return APIKey.objects.create(owner=user)


@pytest.fixture
def api(live_server, key):
    return sdk_client(live_server.url, key.secret_id, key.secret_key)


def test_success_is_http_200_json_with_a_request_id(live_server, key):
    response = signed_post(live_server, key, "DescribePrivateCAs", b"{}")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    payload = response.json()
    assert list(payload) == ["Response"]
    assert payload["Response"]["CAs"] == []
    assert uuid.UUID(payload["Response"]["RequestId"]).version == 4


def test_each_answer_has_its_own_request_id(live_server, key):
    ids = {
        signed_post(live_server, key, "DescribePrivateCAs", b"{}").json()["Response"]["RequestId"]
        for _ in range(3)
    }

    assert len(ids) == 3


def test_refusal_is_http_200_json_with_error_and_request_id(live_server, key):
    response = signed_post(live_server, key, "DescribeProduct", b'{"ProductId": "NOSUCHPROD"}')

    assert api_error(response) == (
        "ResourceNotFound.ProductNotExist",
        'There is no product with the ID "NOSUCHPROD".',
    )


def test_other_version_is_no_such_version(live_server, key):
    response = signed_post(live_server, key, "DescribePrivateCAs", b"{}", version="2018-06-14")

    assert api_error(response) == (
        "NoSuchVersion",
        "The API version '2018-06-14' does not exist; this service answers 2021-04-08.",
    )


def test_unknown_action_is_invalid_action(api):
    error = refusal(lambda: call(api, "DescribeUniverse", {}))

    assert (error.code, error.message) == (
        "InvalidAction",
        "The action 'DescribeUniverse' does not exist in IoT Hub API 2021-04-08.",
    )


def test_action_names_are_case_sensitive(live_server, key):
    code, _ = api_error(signed_post(live_server, key, "describeprivatecas", b"{}"))

    assert code == "InvalidAction"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "The request body must be a JSON object."),
        (b'"x"', "The request body must be a JSON object."),
        (b"42", "The request body must be a JSON object."),
        (b"null", "The request body must be a JSON object."),
        (b"{", "The request body is not valid JSON."),
        (b"ProductName=x", "The request body is not valid JSON."),
        (b"\xff\xfe{}", "The request body is not valid JSON."),
        # Python's int() refuses numbers over 4,300 digits: still a refusal, not a 500.
        (b'{"Offset": ' + b"1" * 5000 + b', "Limit": 10}', "The request body is not valid JSON."),
        # Nested deeper than the JSON decoder recurses.
        (b"[" * 100_000 + b"]" * 100_000, "The request body is not valid JSON."),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "The request body is not valid JSON."),
    ],
)
def test_body_not_a_json_object_is_invalid_parameter(live_server, key, body, message):
    response = signed_post(live_server, key, "DescribeProducts", body)

    assert api_error(response) == ("InvalidParameter", message)


def test_empty_body_is_an_empty_object(live_server, key):
    response = signed_post(live_server, key, "DescribePrivateCAs", b"")

    assert response.json()["Response"]["CAs"] == []


def test_missing_required_parameter_is_missing_parameter(api):
    error = refusal(lambda: api.DescribeProduct(models.DescribeProductRequest()))

    assert (error.code, error.message) == ("MissingParameter", "The parameter ProductId is required.")


def test_null_required_parameter_is_missing_parameter(api):
    error = refusal(
        lambda: call(api, "DescribeDevices", {"ProductId": "ABCDEFGHIJ", "Offset": None, "Limit": 10})
    )

    assert (error.code, error.message) == ("MissingParameter", "The parameter Offset is required.")


def test_missing_required_nested_parameter_is_missing_parameter(api):
    error = refusal(lambda: call(api, "CreatePrivateCA", {"CertName": "ca", "CertText": "x"}))

    assert (error.code, error.message) == ("MissingParameter", "The parameter VerifyCertText is required.")


def test_unknown_parameter_is_unknown_parameter(api):
    error = refusal(lambda: call(api, "DescribeProducts", {"Offset": 0, "Limit": 10, "Owner": "bob"}))

    assert (error.code, error.message) == (
        "UnknownParameter",
        "The parameter Owner is not recognised by this action.",
    )
    assert not Product.objects.exists()


def test_unknown_nested_parameter_is_unknown_parameter(api):
    error = refusal(
        lambda: call(api, "CreateProduct", {"ProductName": "p1", "ProductProperties": {"Colour": "red"}})
    )

    assert (error.code, error.message) == (
        "UnknownParameter",
        "The parameter ProductProperties.Colour is not recognised by this action.",
    )
    assert not Product.objects.exists()


def test_limit_given_as_a_string_is_invalid_parameter(api):
    error = refusal(lambda: api.DescribeProducts(build(models.DescribeProductsRequest, Offset=0, Limit="10")))

    assert (error.code, error.message) == ("InvalidParameter", "The parameter Limit must be an integer.")


def test_product_id_given_as_a_list_is_invalid_parameter(api):
    error = refusal(
        lambda: api.DescribeProduct(build(models.DescribeProductRequest, ProductId=["ABCDEFGHIJ"]))
    )

    assert (error.code, error.message) == ("InvalidParameter", "The parameter ProductId must be a string.")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Offset": 0, "Limit": True}, "The parameter Limit must be an integer."),
        ({"Offset": 0, "Limit": 10.0}, "The parameter Limit must be an integer."),
        ({"Offset": "0", "Limit": 10}, "The parameter Offset must be an integer."),
    ],
)
def test_other_mistyped_integers_are_invalid_parameter(api, params, message):
    error = refusal(lambda: call(api, "DescribeProducts", params))

    assert (error.code, error.message) == ("InvalidParameter", message)


def test_mistyped_list_items_are_invalid_parameter(api):
    error = refusal(lambda: call(api, "SetProductsForbiddenStatus", {"ProductId": ["A", 1], "Status": 1}))

    assert (error.code, error.message) == (
        "InvalidParameter",
        "The parameter ProductId must be a list of strings.",
    )


def test_mistyped_nested_object_is_invalid_parameter(api):
    error = refusal(lambda: call(api, "CreateProduct", {"ProductName": "p1", "ProductProperties": "gz"}))

    assert (error.code, error.message) == (
        "InvalidParameter",
        "The parameter ProductProperties must be an object.",
    )
    assert not Product.objects.exists()


def test_value_outside_its_choices_is_invalid_parameter_value(api):
    error = refusal(lambda: create_product(api, "p1", EncryptionType="3"))

    assert (error.code, error.message) == (
        "InvalidParameterValue",
        "The parameter ProductProperties.EncryptionType must be one of '1', '2', not '3'.",
    )
    assert not Product.objects.exists()


def test_negative_offset_is_invalid_parameter_value(api):
    error = refusal(lambda: api.DescribeProducts(build(models.DescribeProductsRequest, Offset=-1, Limit=10)))

    assert (error.code, error.message) == (
        "InvalidParameterValue",
        "The parameter Offset must be between 0 and 2147483647, not -1.",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"A\\u0000B"', f"The parameter ProductName: {CONTROL_CHARACTERS_REFUSED}"),
        ('"\\ud800"', "The parameter ProductName must be Unicode text (it holds a lone surrogate)."),
    ],
)
def test_strings_no_database_column_holds_are_invalid_parameter_value(live_server, key, text, message):
    body = f'{{"ProductName": {text}}}'.encode()

    assert api_error(signed_post(live_server, key, "CreateProduct", body)) == (
        "InvalidParameterValue",
        message,
    )
    assert not Product.objects.exists()


def test_lone_surrogate_in_a_certificate_is_refused_not_a_500(live_server, key):
    body = json.dumps({"CertName": "ca", "CertText": "\ud800", "VerifyCertText": "x"}).encode()

    assert api_error(signed_post(live_server, key, "CreatePrivateCA", body)) == (
        "InvalidParameterValue",
        "The parameter CertText must be Unicode text (it holds a lone surrogate).",
    )


def test_lone_surrogate_in_a_list_item_or_nested_tag_is_refused(api):
    listed = refusal(lambda: call(api, "SetProductsForbiddenStatus", {"ProductId": ["\ud800"], "Status": 1}))
    nested = refusal(
        lambda: call(
            api,
            "CreateDevice",
            {"ProductId": "ABCDEFGHIJ", "DeviceName": "d", "Attribute": {"Tags": [{"Tag": "\udfff"}]}},
        )
    )

    assert (listed.code, listed.message) == (
        "InvalidParameterValue",
        "The parameter ProductId.0 must be Unicode text (it holds a lone surrogate).",
    )
    assert (nested.code, nested.message) == (
        "InvalidParameterValue",
        "The parameter Attribute.Tags.0.Tag must be Unicode text (it holds a lone surrogate).",
    )


def test_a_body_over_the_size_limit_is_an_api_error_not_an_html_page(live_server, key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"CertName": "ca", "CertText": "A" * 2000, "VerifyCertText": "x"}).encode()

    assert api_error(signed_post(live_server, key, "CreatePrivateCA", body)) == (
        "RequestSizeLimitExceeded",
        "The request body is larger than 1,024 bytes.",
    )
