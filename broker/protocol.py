"""The JSON the brokers send, read into plain values (no Django).

Mosquitto's plugin and EMQX 5 (HTTP authentication, authorization and webhook) speak
slightly different shapes; both become the same values here. Anything malformed
raises `MalformedRequest` with a message for the 400 answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from iothub_console.validators import has_any_control_characters

from . import decisions

MAX_FIELD_CHARS = 64 * 1024  # a certificate PEM is the longest field a broker sends
MAX_TIMESTAMP_MS = 253402300799999  # 9999-12-31, the last moment a datetime holds

CONNECTED = "client.connected"
DISCONNECTED = "client.disconnected"
STARTED = "broker.started"

NOT_JSON = "The body must be a JSON object."
FIELD_NOT_TEXT = 'The field "{name}" must be a string.'
FIELD_REQUIRED = 'The field "{name}" is required.'
FIELD_TOO_LONG = 'The field "{name}" is too long.'
LISTENER_UNKNOWN = 'The field "listener" must be "certificate" or "key".'
ACTION_UNKNOWN = 'The field "action" must be "publish" or "subscribe".'
EVENTS_NOT_LIST = 'The field "events" must be a list of event objects.'
EVENT_NOT_OBJECT = "Event {index} must be a JSON object."
EVENT_TIMESTAMP = (
    'Event {index} needs "timestamp" (or "connected_at"/"disconnected_at"), a time in milliseconds.'
)
EVENT_FIELD = 'Event {index}: the field "{name}" must be a string.'
EVENT_BROKER = 'Event {index} names no broker: send "broker" with the batch (or "node" with the event).'
BROKER_ID_INVALID = "A broker id is at most 255 characters, without control characters."
MAX_BROKER_ID_CHARS = 255
# What an IPv4 or IPv6 address (with a zone) is made of; anything else is dropped.
_NOT_ADDRESS = re.compile(r"[^0-9A-Za-z:.%]")


class MalformedRequest(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AuthorizeRequest:
    client_id: str
    username: str | None
    topic: str
    action: str


@dataclass(frozen=True)
class LinkEvent:
    """A client connected or disconnected, or a broker (re)started, at a moment."""

    kind: str  # CONNECTED, DISCONNECTED or STARTED
    broker: str
    at: datetime
    client_id: str = ""
    peer_ip: str = ""


def load_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError is JSON nested too deeply to decode: as malformed as bad syntax.
        raise MalformedRequest(NOT_JSON) from None
    if not isinstance(data, dict):
        raise MalformedRequest(NOT_JSON)
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise MalformedRequest(FIELD_REQUIRED.format(name=name))
        return None
    if not isinstance(value, str):
        raise MalformedRequest(FIELD_NOT_TEXT.format(name=name))
    if len(value) > MAX_FIELD_CHARS:
        raise MalformedRequest(FIELD_TOO_LONG.format(name=name))
    return value


def connect_attempt(data: dict[str, Any]) -> decisions.ConnectAttempt:
    listener = _text(data, "listener")
    if listener is not None and listener not in decisions.LISTENERS:
        raise MalformedRequest(LISTENER_UNKNOWN)
    return decisions.ConnectAttempt(
        client_id=_text(data, "clientid", required=True) or "",
        username=_text(data, "username"),
        password=_text(data, "password"),
        listener=listener,
        cert_pem=_text(data, "cert_pem"),
    )


def authorize_request(data: dict[str, Any]) -> AuthorizeRequest:
    action = _text(data, "action", required=True)
    if action not in ("publish", "subscribe"):
        raise MalformedRequest(ACTION_UNKNOWN)
    return AuthorizeRequest(
        client_id=_text(data, "clientid", required=True) or "",
        username=_text(data, "username"),
        topic=_text(data, "topic", required=True) or "",
        action=action,
    )


def link_events(data: dict[str, Any]) -> tuple[list[LinkEvent], int]:
    """The batch's events this console acts on, and how many events were well-formed.

    A batch is `{"broker", "events": [...]}` (the plugin); a single EMQX webhook call is
    the event itself, naming its broker as `node`. Events of other kinds are counted
    but not acted on.
    """
    if "events" in data:
        raw = data["events"]
        if not isinstance(raw, list):
            raise MalformedRequest(EVENTS_NOT_LIST)
        batch_broker = _text(data, "broker")
    else:
        raw, batch_broker = [data], None
    events = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise MalformedRequest(EVENT_NOT_OBJECT.format(index=index))
        event = _link_event(item, index, batch_broker)
        if event is not None:
            events.append(event)
    return events, len(raw)


def _event_text(item: dict[str, Any], name: str, index: int) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
        raise MalformedRequest(EVENT_FIELD.format(index=index, name=name))
    return value


def _link_event(item: dict[str, Any], index: int, batch_broker: str | None) -> LinkEvent | None:
    kind = _event_text(item, "event", index)
    broker = batch_broker or _event_text(item, "node", index)
    if kind not in (CONNECTED, DISCONNECTED, STARTED):
        return None
    if not broker:
        raise MalformedRequest(EVENT_BROKER.format(index=index))
    if len(broker) > MAX_BROKER_ID_CHARS or has_any_control_characters(broker):
        raise MalformedRequest(BROKER_ID_INVALID)
    at = _moment(item, index, kind)
    if kind == STARTED:
        return LinkEvent(kind=kind, broker=broker, at=at)
    peer = _event_text(item, "peerhost", index) or _host_of(_event_text(item, "peername", index))
    return LinkEvent(
        kind=kind,
        broker=broker,
        at=at,
        client_id=_event_text(item, "clientid", index),
        peer_ip=_NOT_ADDRESS.sub("", peer)[:64],
    )


def _moment(item: dict[str, Any], index: int, kind: str) -> datetime:
    emqx_name = "connected_at" if kind == CONNECTED else "disconnected_at"
    value = item.get("timestamp", item.get(emqx_name))
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TIMESTAMP_MS:
        raise MalformedRequest(EVENT_TIMESTAMP.format(index=index))
    return datetime.fromtimestamp(value / 1000, UTC)


def _host_of(peername: str) -> str:
    """EMQX's `peername` is host:port ("1.2.3.4:5678", "[::1]:5678" or "::1:5678")."""
    host, separator, port = peername.rpartition(":")
    if not separator or not port.isdigit():
        return peername
    return host.strip("[]")
