"""The WSGI application: the console, and a lean door for the brokers' /broker/v1/ endpoints.

Mosquitto asks `POST /broker/v1/authenticate` on its single thread at every CONNECT, so
that request's time caps how fast devices can connect. The broker endpoints check their
own bearer token and use no session, user, CSRF token, message, static file, page
header, URL resolution or template, so this door hands the request straight to
broker/endpoints.py: in-process, 165 µs per authenticate against 255 µs through
Django's handler without middleware (itself half of the full stack's time). What
Django's handler does that matters here is kept: the request signals (which close or
keep database connections), the upload size limit, and a logged 500. Every other path,
an unknown /broker/v1/ one included, goes through the full stack.
"""

import json
import logging
import os
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from django.core import signals
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iothub_console.settings")

SERVER_ERROR = "The console failed to answer this request; its log has the error."

console_application = get_wsgi_application()  # sets Django up first

# isort: off
from django.conf import settings  # noqa: E402
from django.core.exceptions import RequestDataTooBig  # noqa: E402
from django.http import QueryDict  # noqa: E402

from broker import endpoints  # noqa: E402

# isort: on

request_logger = logging.getLogger("django.request")
BROKER_PREFIX = "/" + endpoints.PATH_PREFIX


def _body_reader(environ: dict[str, Any]) -> Callable[[], bytes]:
    """The body, as Django's request.body reads it: CONTENT_LENGTH bytes, within the upload limit."""

    def read() -> bytes:
        try:
            length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        return environ["wsgi.input"].read(length) if length else b""

    return read


def _broker_answer(endpoint: str, environ: dict[str, Any]) -> endpoints.Answer:
    signals.request_started.send(sender=__name__, environ=environ)
    try:
        return endpoints.answer(
            endpoint,
            endpoints.BrokerCall(
                method=environ.get("REQUEST_METHOD", "").upper(),
                authorization=environ.get("HTTP_AUTHORIZATION", ""),
                read_query=lambda: QueryDict(environ.get("QUERY_STRING", "")),
                read_body=_body_reader(environ),
            ),
        )
    except Exception:
        signals.got_request_exception.send(sender=__name__, request=None)
        request_logger.exception(
            "Internal Server Error: %s", environ.get("PATH_INFO"), extra={"status_code": 500}
        )
        return endpoints.Answer(500, {"error": SERVER_ERROR})
    finally:
        signals.request_finished.send(sender=__name__)


def application(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    endpoint = path[len(BROKER_PREFIX) :] if path.startswith(BROKER_PREFIX) else ""
    if endpoint not in endpoints.ENDPOINTS:
        return console_application(environ, start_response)
    answer = _broker_answer(endpoint, environ)
    content = json.dumps(answer.content).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(content)))]
    if answer.allow:
        headers.append(("Allow", answer.allow))
    start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", headers)
    return [content]
