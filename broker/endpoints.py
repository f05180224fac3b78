"""The device link service: the endpoints the brokers call (`/broker/v1/…`), whatever door a call comes through.

Only a holder of the broker token may call them. Every well-formed request gets a
200 with the answer; a wrong token is a 401, a wrong method a 405 and a malformed or
oversized body a 400, each with `{"error": …}`, never a 500. The shapes are in the
README and in the Mosquitto plugin; EMQX 5's HTTP authentication, authorization and
webhook fit them too.

Two doors lead here and share everything below: the console's Django views
(broker/views.py, for the URLconf and the test client) and the lean WSGI path that
`make run` serves /broker/v1/ through (iothub_console/wsgi.py). Mosquitto asks
`authenticate` on its single thread at every CONNECT, so Django's request and response
machinery, which took a third of that request's time, is skipped there.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.utils import timezone

from audit import services as audit
from lifecycle import services as lifecycle

from . import decisions, protocol, selectors, status

logger = logging.getLogger(__name__)

TOKEN_REQUIRED = "A valid broker token is required: Authorization: Bearer <token> (manage.py broker_token)."  # noqa: S105
METHOD_NOT_ALLOWED = "Use {method} for this endpoint."
BODY_TOO_LARGE = "The request body is too large."
QUERY_TOO_LONG = "The query string has too many parameters."
BROKER_REQUIRED = 'The query parameter "broker" (the broker id) is required.'
CURSOR_NOT_NUMBER = 'The query parameter "after" must be a command id (a whole number).'
LIMIT_NOT_NUMBER = 'The query parameter "limit" must be a whole number of commands.'
MAX_CURSOR_DIGITS = 18  # a 64-bit id

PATH_PREFIX = "broker/v1/"  # where the console serves ENDPOINTS, below its root


@dataclass(frozen=True)
class BrokerCall:
    """One request from a broker, as either door received it."""

    method: str
    authorization: str  # the Authorization header, "" when absent
    # The query string's parameters, parsed on demand; raises TooManyFieldsSent past
    # DATA_UPLOAD_MAX_NUMBER_FIELDS, as Django's request.GET does.
    read_query: Callable[[], Mapping[str, str]]
    # The body, read on demand (after the token check); raises RequestDataTooBig over
    # DATA_UPLOAD_MAX_MEMORY_SIZE, as Django's request.body does.
    read_body: Callable[[], bytes]


@dataclass(frozen=True)
class Answer:
    status: int
    content: dict[str, Any]
    allow: str = ""  # the Allow header of a 405


def _error(message: str, status_code: int) -> Answer:
    return Answer(status_code, {"error": message})


def _has_token(authorization: str) -> bool:
    scheme, _, token = authorization.partition(" ")
    expected = settings.IOTHUB_BROKER_TOKEN.encode("utf-8")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode("utf-8"), expected)


def answer(endpoint: str, call: BrokerCall) -> Answer:
    """Token check, method check, the endpoint, and the 400 for malformed input."""
    method, handle = ENDPOINTS[endpoint]
    if not _has_token(call.authorization):
        return _error(TOKEN_REQUIRED, 401)
    if call.method != method:
        return Answer(405, {"error": METHOD_NOT_ALLOWED.format(method=method)}, allow=method)
    try:
        return Answer(200, handle(call))
    except RequestDataTooBig:
        return _error(BODY_TOO_LARGE, 400)
    except TooManyFieldsSent:
        return _error(QUERY_TOO_LONG, 400)
    except protocol.MalformedRequest as error:
        return _error(error.message, 400)


def authenticate(call: BrokerCall) -> dict[str, Any]:
    body = protocol.load_object(call.read_body())
    attempt = protocol.connect_attempt(body)
    found = selectors.device_for_client_id(attempt.client_id)
    now = timezone.now()
    decision = decisions.decide(attempt, found.record if found else None, now)
    if found is not None and found.renewing:
        # The first connection with the renewed certificate retires the old one.
        lifecycle.note_connection(
            device_pk=found.device_pk, cert_pem=attempt.cert_pem, allowed=decision.allowed
        )
    if not decision.allowed:
        if found is not None:
            status.record_refusal(found.device_pk, decision.reason, now)
            audit.record_connection_refused(
                device_pk=found.device_pk,
                product_id=found.record.product_id,
                device_name=found.record.device_name,
                code=decision.code,
                reason=decision.reason,
                ip=audit.peer_address(body.get("peerhost")),
            )
        logger.info("Refused %s: %s", attempt.client_id[:100], decision.code)
        return {"result": "deny", "reason": decision.reason, "code": decision.code}
    return {"result": "allow", "is_superuser": False, "acl": [rule.as_dict() for rule in decision.acl]}


def authorize(call: BrokerCall) -> dict[str, Any]:
    """For brokers that ask per topic (EMQX); Mosquitto's plugin keeps the ACL itself."""
    asked = protocol.authorize_request(protocol.load_object(call.read_body()))
    found = selectors.device_for_client_id(asked.client_id)
    allowed = (
        found is not None
        and found.record.enabled
        and not found.record.product_forbidden
        and decisions.topic_allowed(
            decisions.device_acl(found.record.product_id, found.record.device_name), asked.topic, asked.action
        )
    )
    return {"result": "allow" if allowed else "deny"}


def events(call: BrokerCall) -> dict[str, Any]:
    link_events, received = protocol.link_events(protocol.load_object(call.read_body()))
    status.apply_link_events(link_events)
    return {"accepted": received}


def _whole_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= MAX_CURSOR_DIGITS


def commands(call: BrokerCall) -> dict[str, Any]:
    query = call.read_query()
    broker = query.get("broker", "")
    if not broker:
        raise protocol.MalformedRequest(BROKER_REQUIRED)
    after = query.get("after")
    if after is not None and not _whole_number(after):
        raise protocol.MalformedRequest(CURSOR_NOT_NUMBER)
    # The plugin asks for smaller pages after an answer too large for it.
    limit = query.get("limit", str(selectors.COMMANDS_PER_POLL))
    if not _whole_number(limit):
        raise protocol.MalformedRequest(LIMIT_NOT_NUMBER)
    return selectors.pending_commands(broker, int(after) if after is not None else None, int(limit))


# Each endpoint's path under PATH_PREFIX, its method and what answers it.
ENDPOINTS: dict[str, tuple[str, Callable[[BrokerCall], dict[str, Any]]]] = {
    "authenticate": ("POST", authenticate),
    "authorize": ("POST", authorize),
    "events": ("POST", events),
    "commands": ("GET", commands),
}
