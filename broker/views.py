"""The device link service: the endpoints the brokers call (`/broker/v1/…`).

Only a holder of the broker token may call them. Every well-formed request gets a
200 with the answer; a wrong token is a 401 and a malformed body a 400, both with
`{"error": …}`, never a 500. The shapes are in the README and in the Mosquitto
plugin; EMQX 5's HTTP authentication, authorization and webhook fit them too.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from audit import services as audit
from lifecycle import services as lifecycle

from . import decisions, protocol, selectors, status

logger = logging.getLogger(__name__)

TOKEN_REQUIRED = "A valid broker token is required: Authorization: Bearer <token> (manage.py broker_token)."  # noqa: S105
METHOD_NOT_ALLOWED = "Use {method} for this endpoint."
BODY_TOO_LARGE = "The request body is too large."
BROKER_REQUIRED = 'The query parameter "broker" (the broker id) is required.'
CURSOR_NOT_NUMBER = 'The query parameter "after" must be a command id (a whole number).'
LIMIT_NOT_NUMBER = 'The query parameter "limit" must be a whole number of commands.'
MAX_CURSOR_DIGITS = 18  # a 64-bit id


def _error(message: str, status_code: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status_code)


def _has_token(request: HttpRequest) -> bool:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    expected = settings.IOTHUB_BROKER_TOKEN.encode("utf-8")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode("utf-8"), expected)


def broker_endpoint(method: str) -> Callable:
    """Token check, method check, and the 400 for malformed input, for every endpoint."""

    def decorate(view: Callable[[HttpRequest], JsonResponse]) -> Callable:
        @csrf_exempt
        @login_not_required
        @wraps(view)
        def endpoint(request: HttpRequest) -> JsonResponse:
            if not _has_token(request):
                return _error(TOKEN_REQUIRED, 401)
            if request.method != method:
                response = _error(METHOD_NOT_ALLOWED.format(method=method), 405)
                response["Allow"] = method
                return response
            try:
                return view(request)
            except RequestDataTooBig:
                return _error(BODY_TOO_LARGE, 400)
            except protocol.MalformedRequest as error:
                return _error(error.message, 400)

        return endpoint

    return decorate


def _body(request: HttpRequest) -> dict:
    return protocol.load_object(request.body)


@broker_endpoint("POST")
def authenticate(request: HttpRequest) -> JsonResponse:
    attempt = protocol.connect_attempt(_body(request))
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
                ip=audit.peer_address(_body(request).get("peerhost")),
            )
        logger.info("Refused %s: %s", attempt.client_id[:100], decision.code)
        return JsonResponse({"result": "deny", "reason": decision.reason, "code": decision.code})
    return JsonResponse(
        {"result": "allow", "is_superuser": False, "acl": [rule.as_dict() for rule in decision.acl]}
    )


@broker_endpoint("POST")
def authorize(request: HttpRequest) -> JsonResponse:
    """For brokers that ask per topic (EMQX); Mosquitto's plugin keeps the ACL itself."""
    asked = protocol.authorize_request(_body(request))
    found = selectors.device_for_client_id(asked.client_id)
    allowed = (
        found is not None
        and found.record.enabled
        and not found.record.product_forbidden
        and decisions.topic_allowed(
            decisions.device_acl(found.record.product_id, found.record.device_name), asked.topic, asked.action
        )
    )
    return JsonResponse({"result": "allow" if allowed else "deny"})


@broker_endpoint("POST")
def events(request: HttpRequest) -> JsonResponse:
    link_events, received = protocol.link_events(_body(request))
    status.apply_link_events(link_events)
    return JsonResponse({"accepted": received})


@broker_endpoint("GET")
def commands(request: HttpRequest) -> JsonResponse:
    broker = request.GET.get("broker", "")
    if not broker:
        return _error(BROKER_REQUIRED, 400)
    after = request.GET.get("after")
    if after is not None and not (after.isascii() and after.isdigit() and len(after) <= MAX_CURSOR_DIGITS):
        return _error(CURSOR_NOT_NUMBER, 400)
    # The plugin asks for smaller pages after an answer too large for it.
    limit = request.GET.get("limit", str(selectors.COMMANDS_PER_POLL))
    if not (limit.isascii() and limit.isdigit() and len(limit) <= MAX_CURSOR_DIGITS):
        return _error(LIMIT_NOT_NUMBER, 400)
    return JsonResponse(
        selectors.pending_commands(broker, int(after) if after is not None else None, int(limit))
    )
