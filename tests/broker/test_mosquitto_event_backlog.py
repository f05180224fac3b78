"""Events queued while the console could not take them reach it in order, in bounded POSTs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.broker.devices import server_ca_file
from tests.mqtt_client import DeviceClient

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

CLIENTS = 600  # a connect and a disconnect each: more events than one POST may carry
MOST_PER_POST = 1000
TIMEOUT = 60.0


class EventsConsole(ThreadingHTTPServer):
    """Lets every client in and takes event batches only once `accepting` is set."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ConsoleHandler)
        self.accepting = threading.Event()
        self.batches: list[list[dict]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def events(self) -> list[dict]:
        with self.lock:
            return [event for batch in self.batches for event in batch]


class ConsoleHandler(BaseHTTPRequestHandler):
    server: EventsConsole

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: the test reads the batches."""

    def _answer(self, status: int, body: dict) -> None:
        text = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def do_GET(self) -> None:
        self._answer(200, {"cursor": 0, "kick": [], "kick_prefixes": [], "publish": [], "commands": []})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/broker/v1/authenticate":
            self._answer(200, {"result": "allow", "is_superuser": False, "acl": []})
        elif not self.server.accepting.is_set():
            self._answer(503, {"error": "down"})
        else:
            with self.server.lock:
                self.server.batches.append(body["events"])
            self._answer(200, {"accepted": len(body["events"])})


@pytest.fixture
def events_console() -> Iterator[EventsConsole]:
    console = EventsConsole()
    thread = threading.Thread(target=console.serve_forever, daemon=True)
    thread.start()
    try:
        yield console
    finally:
        console.shutdown()
        console.server_close()
        thread.join(timeout=5)


def test_a_backlog_of_events_arrives_in_order_at_most_1000_a_post(start_broker, events_console):
    broker = start_broker(console_url=events_console.url)
    names = [f"ABCDEFGHIJdev{number:04d}" for number in range(CLIENTS)]
    for name in names:
        client = DeviceClient(
            client_id=name,
            ca_file=server_ca_file(),
            username=name,
            password="x",
            port=broker.options.key_port,
        )
        assert client.connected, client.error
        client.close()

    events_console.accepting.set()
    deadline = time.monotonic() + TIMEOUT
    while len(events_console.events()) < 2 * CLIENTS + 1 and time.monotonic() < deadline:
        time.sleep(0.1)

    events = events_console.events()
    assert max(len(batch) for batch in events_console.batches) <= MOST_PER_POST
    assert len(events_console.batches) >= 2
    assert events[0]["event"] == "broker.started"
    connected = [event["clientid"] for event in events if event["event"] == "client.connected"]
    disconnected = [event["clientid"] for event in events if event["event"] == "client.disconnected"]
    assert connected == names
    assert sorted(disconnected) == names
    for name in names:
        mine = [event["event"] for event in events if event.get("clientid") == name]
        assert mine == ["client.connected", "client.disconnected"]
