"""Every /broker/v1/ endpoint: 401 without the broker token, 400 for malformed input, never a 500."""

import copy
import json

import pytest
from django.conf import settings

from broker import decisions, endpoints, protocol
from broker.models import BrokerCommand
from products.models import Device

from .link_service import BROKER, at, authenticate, call, connected, key_device, platform_device, send_events

pytestmark = pytest.mark.django_db

POST_ENDPOINTS = ["authenticate", "authorize", "events"]


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer wrong-token", "Basic dXNlcjpwYXNz", "bearer " + "x" * 64]
)
def test_post_endpoints_refuse_a_missing_or_wrong_token(client, endpoint, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}

    response = client.post(f"/broker/v1/{endpoint}", data="{}", content_type="application/json", **extra)

    assert response.status_code == 401
    assert response.json() == {"error": endpoints.TOKEN_REQUIRED}


def test_commands_refuse_a_wrong_token(client):
    response = client.get("/broker/v1/commands", {"broker": BROKER}, HTTP_AUTHORIZATION="Bearer nope")

    assert response.status_code == 401
    assert response.json() == {"error": endpoints.TOKEN_REQUIRED}


def test_wrong_token_changes_nothing(client, user):
    device = platform_device(user)

    response = call(
        client, "events", {"broker": BROKER, "events": [connected(device.client_id, at(0))]}, token="guess"
    )

    assert response.status_code == 401
    device.refresh_from_db()
    assert device.online is False


def test_a_query_string_of_too_many_parameters_is_a_400(client):
    query = "&".join(f"p{number}=1" for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    response = client.get(
        f"/broker/v1/commands?broker=b&{query}", HTTP_AUTHORIZATION=f"Bearer {settings.IOTHUB_BROKER_TOKEN}"
    )

    assert response.status_code == 400
    assert response.json() == {"error": endpoints.QUERY_TOO_LONG}


def test_token_is_accepted_with_any_scheme_case(client):
    response = client.get(
        "/broker/v1/commands", {"broker": BROKER}, HTTP_AUTHORIZATION=f"bearer {settings.IOTHUB_BROKER_TOKEN}"
    )

    assert response.status_code == 200


def test_wrong_method_is_a_405(client):
    response = client.get(
        "/broker/v1/authenticate", HTTP_AUTHORIZATION=f"Bearer {settings.IOTHUB_BROKER_TOKEN}"
    )

    assert response.status_code == 405
    assert response.json() == {"error": "Use POST for this endpoint."}


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
@pytest.mark.parametrize("body", ["", "not json", "[1, 2]", '"text"', "null", b"\xff\xfe{", "{" * 10000])
def test_bodies_that_are_not_json_objects_are_a_400(client, endpoint, body):
    response = call(client, endpoint, body)

    assert response.status_code == 400
    assert response.json() == {"error": protocol.NOT_JSON}


def nested(depth: int) -> str:
    """A JSON value nested deeper than Python's decoder recurses: well-formed, yet undecodable."""
    return '{"a": [' * depth + "1" + "]}" * depth


@pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
def test_json_nested_too_deeply_is_a_400_and_writes_nothing(client, user, endpoint):
    device = platform_device(user)
    event = json.dumps(connected(device.client_id, at(0)))
    body = f'{{"broker": "{BROKER}", "clientid": "{device.client_id}", "events": [{event}], "pad": {nested(50_000)}}}'

    response = call(client, endpoint, body)

    assert response.status_code == 400
    assert response.json() == {"error": protocol.NOT_JSON}
    device.refresh_from_db()
    assert device.online is False
    assert BrokerCommand.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, protocol.FIELD_REQUIRED.format(name="clientid")),
        ({"clientid": 12}, protocol.FIELD_NOT_TEXT.format(name="clientid")),
        ({"clientid": "ABCDEFGHIJdev", "username": ["a"]}, protocol.FIELD_NOT_TEXT.format(name="username")),
        (
            {"clientid": "ABCDEFGHIJdev", "password": {"x": 1}},
            protocol.FIELD_NOT_TEXT.format(name="password"),
        ),
        ({"clientid": "ABCDEFGHIJdev", "cert_pem": 5}, protocol.FIELD_NOT_TEXT.format(name="cert_pem")),
        ({"clientid": "ABCDEFGHIJdev", "listener": "psk"}, protocol.LISTENER_UNKNOWN),
        (
            {"clientid": "ABCDEFGHIJdev", "cert_pem": "x" * 70000},
            protocol.FIELD_TOO_LONG.format(name="cert_pem"),
        ),
    ],
)
def test_malformed_authenticate_fields_are_a_400(client, body, message):
    response = call(client, "authenticate", body)

    assert response.status_code == 400
    assert response.json() == {"error": message}


@pytest.mark.parametrize(
    "cert_pem",
    [
        "garbage",
        "-----BEGIN CERTIFICATE-----\n\x00\x01\n-----END CERTIFICATE-----",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        "\udcff",
    ],
)
def test_hostile_certificates_are_refused_not_a_500(client, user, cert_pem):
    device = platform_device(user)

    response = call(client, "authenticate", {"clientid": device.client_id, "cert_pem": cert_pem})

    assert response.status_code == 200
    assert response.json()["result"] == "deny"
    assert response.json()["code"] == "certificate_unreadable"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"broker": BROKER, "events": {"event": "client.connected"}}, protocol.EVENTS_NOT_LIST),
        ({"broker": BROKER, "events": ["client.connected"]}, protocol.EVENT_NOT_OBJECT.format(index=0)),
        (
            {"broker": BROKER, "events": [{"event": "client.connected", "clientid": "ABCDEFGHIJdev"}]},
            protocol.EVENT_TIMESTAMP.format(index=0),
        ),
        (
            {"broker": BROKER, "events": [{"event": "client.connected", "clientid": "A", "timestamp": "1"}]},
            protocol.EVENT_TIMESTAMP.format(index=0),
        ),
        (
            {"broker": BROKER, "events": [{"event": "client.connected", "clientid": "A", "timestamp": True}]},
            protocol.EVENT_TIMESTAMP.format(index=0),
        ),
        (
            {"broker": BROKER, "events": [{"event": "client.connected", "clientid": "A", "timestamp": -5}]},
            protocol.EVENT_TIMESTAMP.format(index=0),
        ),
        (
            {
                "broker": BROKER,
                "events": [{"event": "client.connected", "clientid": "A", "timestamp": 10**20}],
            },
            protocol.EVENT_TIMESTAMP.format(index=0),
        ),
        (
            {"broker": BROKER, "events": [{"event": "client.connected", "clientid": "A", "timestamp": 1.5}]},
            protocol.EVENT_TIMESTAMP.format(index=0),
        ),
        (
            {"broker": BROKER, "events": [{"event": "client.connected", "clientid": 7, "timestamp": 1}]},
            protocol.EVENT_FIELD.format(index=0, name="clientid"),
        ),
        (
            {
                "broker": BROKER,
                "events": [{"event": "client.connected", "clientid": "A", "peerhost": 1, "timestamp": 1}],
            },
            protocol.EVENT_FIELD.format(index=0, name="peerhost"),
        ),
        ({"events": [{"event": "broker.started", "timestamp": 1}]}, protocol.EVENT_BROKER.format(index=0)),
        ({"broker": 5, "events": []}, protocol.FIELD_NOT_TEXT.format(name="broker")),
    ],
)
def test_malformed_events_are_a_400_and_write_nothing(client, user, body, message):
    device = platform_device(user)
    body = copy.deepcopy(body)  # the parameter is shared by both doors' runs
    # A good event before the bad one: the batch is all or nothing.
    events = body.get("events")
    if body.get("broker") == BROKER and isinstance(events, list) and events and isinstance(events[0], dict):
        events.insert(0, connected(device.client_id, at(0)))
        message = message.replace("Event 0", "Event 1")

    response = call(client, "events", body)

    assert response.status_code == 400
    assert response.json() == {"error": message}
    device.refresh_from_db()
    assert device.online is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"clientid": "ABCDEFGHIJdev", "topic": "a/b"}, protocol.FIELD_REQUIRED.format(name="action")),
        ({"clientid": "ABCDEFGHIJdev", "topic": "a/b", "action": "read"}, protocol.ACTION_UNKNOWN),
        ({"clientid": "ABCDEFGHIJdev", "action": "publish"}, protocol.FIELD_REQUIRED.format(name="topic")),
    ],
)
def test_malformed_authorize_is_a_400(client, body, message):
    response = call(client, "authorize", body)

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_oversized_body_is_a_400(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = call(client, "events", json.dumps({"broker": BROKER, "events": [], "pad": "x" * 2000}))

    assert response.status_code == 400
    assert response.json() == {"error": endpoints.BODY_TOO_LARGE}


def test_nothing_is_written_for_a_refused_token(client):
    call(client, "authenticate", {"clientid": "ABCDEFGHIJdev"}, token="wrong")

    assert BrokerCommand.objects.count() == 0
    assert Device.objects.count() == 0


def test_control_characters_quoted_in_a_refusal_are_stored_replaced(client, user):
    """PostgreSQL refuses NUL in text: a username naming "\\x00" must not turn the refusal into a 500."""
    device = key_device(user)

    answer = authenticate(
        client,
        clientid=device.client_id,
        username="evil\x00\x1b;12010126;abcde;4102444800",
        password="00;hmacsha256",
    )

    assert answer["code"] == decisions.USERNAME_WRONG_CLIENT
    device.refresh_from_db()
    assert device.last_refusal_reason == decisions.USERNAME_WRONG_CLIENT_REASON.format(
        actual="evil??", expected=device.client_id
    )


def test_peer_address_keeps_only_address_characters(client, user):
    device = key_device(user)

    send_events(client, [connected(device.client_id, at(0), peerhost="10.0.0.1\x00<script>")])

    device.refresh_from_db()
    assert (device.online, device.client_ip) == (True, "10.0.0.1script")


@pytest.mark.parametrize("broker", ["broker\x00a", "x" * 256])
def test_broker_id_with_control_characters_or_too_long_is_a_400(client, user, broker):
    device = key_device(user)

    response = call(client, "events", {"broker": broker, "events": [connected(device.client_id, at(0))]})

    assert response.status_code == 400
    assert response.json() == {"error": protocol.BROKER_ID_INVALID}
    device.refresh_from_db()
    assert device.online is False
