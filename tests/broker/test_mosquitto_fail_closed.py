"""Without the console, the broker lets nobody new in and keeps who is connected;
without the broker's token, the console tells nothing."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.broker.devices import platform_device
from tests.mqtt_client import free_port

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


class ConsoleLink:
    """A TCP relay between the broker and the live console, which the test can cut."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname, parts.port)
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                incoming, _ = self.listener.accept()
            except OSError:
                return  # cut
            outgoing = socket.create_connection(self.target)
            with self.lock:
                self.connections += [incoming, outgoing]
            for source, sink in ((incoming, outgoing), (outgoing, incoming)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """The console is gone: nothing listens on the port and open connections drop."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
        self.listener.close()
        self.thread.join(timeout=5)
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()


@pytest.fixture
def console_link(live_server) -> Iterator[ConsoleLink]:
    link = ConsoleLink(live_server.url)
    try:
        yield link
    finally:
        link.cut()


def test_console_unreachable_refuses_new_connections_and_keeps_connected_ones(
    start_broker, console_link, user
):
    broker = start_broker(console_url=console_link.url)
    connected_first = platform_device(user, "early")
    later = platform_device(user, "late", product=connected_first.device.product)
    early = connected_first.connect(broker)
    assert early.connected, early.error

    console_link.cut()
    refused = later.connect(broker)
    assert not refused.connected
    # Mosquitto closes the connection without a CONNACK: the device retries later.
    assert refused.connect_reason is None
    later.device.refresh_from_db()
    assert later.device.last_refusal_reason == ""  # the console never heard of it

    assert early.subscribe(f"{connected_first.topic_prefix}#") == [1]
    early.publish(f"{connected_first.topic_prefix}data", b"still here")
    assert early.wait_for_messages(1) == [(f"{connected_first.topic_prefix}data", b"still here")]
    early.close()


def post(url: str, body: dict, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_endpoints_without_the_brokers_token_answer_401(live_server, user, token):
    device = platform_device(user, "sensor")
    attempt = {"clientid": device.client_id, "username": None, "password": None, "cert_pem": None}
    for path, body in (("authenticate", attempt), ("events", {"broker": "b", "events": []})):
        status, answer = post(f"{live_server.url}/broker/v1/{path}", body, token)
        assert status == 401
        assert answer["error"]
    device.device.refresh_from_db()
    assert device.device.last_refusal_reason == ""
    # With the token the same request is answered (a refusal: no certificate came).
    status, answer = post(f"{live_server.url}/broker/v1/authenticate", attempt, settings.IOTHUB_BROKER_TOKEN)
    assert status == 200
    assert answer["result"] == "deny"
