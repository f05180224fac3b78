"""The two doors to the broker endpoints, for tests: Django's views and the lean WSGI door.

Django's test client reaches /broker/v1/ through the URLconf and broker/views.py.
`make run` serves those paths through `iothub_console.wsgi.application`'s lean door
instead, so the endpoint tests run through both (tests/broker/conftest.py), and the
live server the Mosquitto tests use serves the lean door (tests/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core import signals
from django.db import close_old_connections
from django.test import Client, RequestFactory

BROKER_PATH = "/broker/v1/"


class LeanDoorResponse:
    """What the tests read of a response, as Django's test client offers it."""

    def __init__(self, status: str, headers: list[tuple[str, str]], content: bytes) -> None:
        self.status_code = int(status.split(maxsplit=1)[0])
        self.headers = {name.lower(): value for name, value in headers}
        self.content = content

    def __getitem__(self, header: str) -> str:
        return self.headers[header.lower()]

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json"
        return json.loads(self.content)


@contextmanager
def _connections_kept() -> Iterator[None]:
    """As Django's test client does: a test's transaction must outlive the request signals."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


class LeanDoorClient:
    """Django's test client, except that /broker/v1/ requests go through the lean WSGI door."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._factory = RequestFactory()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def generic(self, method: str, path: str, *args: Any, **kwargs: Any):
        if not path.startswith(BROKER_PATH):
            return self._client.generic(method, path, *args, **kwargs)
        return self._through_the_lean_door(self._factory.generic(method, path, *args, **kwargs).environ)

    def _request(self, method: str, path: str, *args: Any, **kwargs: Any):
        if not path.startswith(BROKER_PATH):
            return getattr(self._client, method)(path, *args, **kwargs)
        return self._through_the_lean_door(getattr(self._factory, method)(path, *args, **kwargs).environ)

    def get(self, path: str, *args: Any, **kwargs: Any):
        return self._request("get", path, *args, **kwargs)

    def post(self, path: str, *args: Any, **kwargs: Any):
        return self._request("post", path, *args, **kwargs)

    def put(self, path: str, *args: Any, **kwargs: Any):
        return self._request("put", path, *args, **kwargs)

    def delete(self, path: str, *args: Any, **kwargs: Any):
        return self._request("delete", path, *args, **kwargs)

    def head(self, path: str, *args: Any, **kwargs: Any):
        return self._request("head", path, *args, **kwargs)

    @staticmethod
    def _through_the_lean_door(environ: dict[str, Any]) -> LeanDoorResponse:
        from iothub_console.wsgi import application

        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
            started["status"], started["headers"] = status, headers

        with _connections_kept():
            result = application(environ, start_response)
            try:
                content = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return LeanDoorResponse(started["status"], started["headers"], content)
