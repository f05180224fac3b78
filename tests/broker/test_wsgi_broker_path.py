"""The WSGI application `make run` serves: /broker/v1/ through the lean path, the console through its middleware.

The other endpoint tests use Django's test client, which builds its own handler from
MIDDLEWARE; these call `iothub_console.wsgi.application` itself, as the server does. The
database is committed (transactional_db) because the real request signals run and close
connections as they would in production.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.core import signals
from django.urls import reverse

from broker import decisions, endpoints
from iothub_console import wsgi
from iothub_console.wsgi import application

from .link_service import key_device, key_login

pytestmark = pytest.mark.django_db(transaction=True)


def wsgi_request(
    method: str, path: str, body: bytes = b"", token: str | None = None
) -> tuple[int, dict, bytes]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    started: dict = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info=None) -> None:
        started["status"], started["headers"] = int(status.split(maxsplit=1)[0]), dict(headers)

    result = application(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        close = getattr(result, "close", None)  # the console's responses send request_finished there
        if close is not None:
            close()
    return started["status"], started["headers"], content


def test_authenticate_through_the_wsgi_application_allows_a_key_device(user):
    device = key_device(user)
    body = json.dumps({**key_login(device), "broker": "broker-a:8883"}).encode()

    status, headers, content = wsgi_request(
        "POST", "/broker/v1/authenticate", body, settings.IOTHUB_BROKER_TOKEN
    )

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(content)
    assert answer["result"] == "allow"
    assert [
        rule.as_dict() for rule in decisions.device_acl(device.product.product_id, device.name)
    ] == answer["acl"]


def test_a_refusal_through_the_wsgi_application_is_recorded_on_the_device(user):
    device = key_device(user)
    login = {**key_login(device), "password": "00" * 32 + ";hmacsha256"}

    status, _, content = wsgi_request(
        "POST", "/broker/v1/authenticate", json.dumps(login).encode(), settings.IOTHUB_BROKER_TOKEN
    )

    assert status == 200
    assert json.loads(content) == {
        "result": "deny",
        "reason": decisions.PASSWORD_WRONG_REASON,
        "code": decisions.PASSWORD_WRONG,
    }
    device.refresh_from_db()
    assert device.last_refusal_reason == decisions.PASSWORD_WRONG_REASON


def test_the_lean_path_still_requires_the_brokers_token(user):
    device = key_device(user)

    status, _, content = wsgi_request(
        "POST", "/broker/v1/authenticate", json.dumps(key_login(device)).encode(), "not-the-token"
    )

    assert status == 401
    assert json.loads(content) == {"error": endpoints.TOKEN_REQUIRED}
    device.refresh_from_db()
    assert device.last_refused_at is None


def test_console_pages_still_go_through_the_console_middleware():
    status, headers, _ = wsgi_request("GET", "/products/")

    # LoginRequiredMiddleware sends a visitor to sign in; the security middleware adds its headers.
    assert status == 302
    assert headers["Location"] == f"{reverse(settings.LOGIN_URL)}?next=/products/"
    assert headers["X-Frame-Options"] == "DENY"


def test_an_unknown_broker_path_is_the_consoles_404_not_a_500():
    # The lean path resolves against the broker's routes alone; what they do not hold is
    # answered as any unknown URL is.
    status, _, content = wsgi_request(
        "POST", "/broker/v1/no-such-endpoint", b"{}", settings.IOTHUB_BROKER_TOKEN
    )

    assert status == 404
    assert b"The requested resource was not found on this server." in content  # Django's 404 page


def test_every_broker_endpoint_resolves_on_the_lean_path_as_in_the_console():
    for name in ("authenticate", "authorize", "events", "commands"):
        path = reverse(f"broker:{name}")
        status, _, content = wsgi_request("POST" if name != "commands" else "GET", path)

        assert path.startswith("/broker/v1/")
        assert status == 401, (path, content)  # reached the endpoint: it asks for the token


def test_an_error_on_the_lean_door_is_a_logged_json_500_and_the_next_request_is_served(
    user, monkeypatch, caplog
):
    device = key_device(user)
    body = json.dumps({**key_login(device), "broker": "broker-a:8883"}).encode()

    def fail(client_id: str) -> None:
        raise RuntimeError("the lookup broke")

    monkeypatch.setattr("broker.selectors.device_for_client_id", fail)
    with caplog.at_level("ERROR", logger="django.request"):
        status, headers, content = wsgi_request(
            "POST", "/broker/v1/authenticate", body, settings.IOTHUB_BROKER_TOKEN
        )

    assert status == 500
    assert headers["Content-Type"] == "application/json"
    assert json.loads(content) == {"error": wsgi.SERVER_ERROR}
    (record,) = [record for record in caplog.records if record.name == "django.request"]
    assert record.getMessage() == "Internal Server Error: /broker/v1/authenticate"
    assert "the lookup broke" in caplog.text
    monkeypatch.undo()
    status, _, content = wsgi_request("POST", "/broker/v1/authenticate", body, settings.IOTHUB_BROKER_TOKEN)
    assert status == 200 and json.loads(content)["result"] == "allow"


def test_the_lean_door_sends_the_request_signals_that_keep_or_close_database_connections(user):
    """Django's handler sends request_started and request_finished around every request; their
    receivers (close_old_connections among them) must run on the lean door too."""
    sent = []

    def note(signal, sender, **kwargs) -> None:
        sent.append(signal)

    for signal in (signals.request_started, signals.request_finished):
        signal.connect(note, weak=False)
    try:
        status, _, _ = wsgi_request(
            "POST", "/broker/v1/events", b'{"broker": "b", "events": []}', settings.IOTHUB_BROKER_TOKEN
        )
    finally:
        for signal in (signals.request_started, signals.request_finished):
            signal.disconnect(note)

    assert status == 200
    assert sent == [signals.request_started, signals.request_finished]


def test_the_live_server_the_mosquitto_tests_use_serves_the_lean_door(live_server, monkeypatch):
    answered = []
    lean_answer = wsgi._broker_answer

    def counted(endpoint, environ):
        answered.append(endpoint)
        return lean_answer(endpoint, environ)

    monkeypatch.setattr(wsgi, "_broker_answer", counted)
    request = urllib.request.Request(f"{live_server.url}/broker/v1/authenticate", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)

    assert refused.value.code == 401
    assert answered == ["authenticate"]
