"""Events reach the console in order and in bounded POSTs: a backlog at once, a steady stream
a few times a second."""

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
        self.command_polls = 0
        self.events_delay = 0.0  # seconds before answering an events POST: a busy console
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
        with self.server.lock:
            self.server.command_polls += 1
        self._answer(200, {"cursor": 0, "kick": [], "kick_prefixes": [], "publish": [], "commands": []})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/broker/v1/authenticate":
            self._answer(200, {"result": "allow", "is_superuser": False, "acl": []})
        elif not self.server.accepting.is_set():
            self._answer(503, {"error": "down"})
        else:
            time.sleep(self.server.events_delay)
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


def connect_and_close(port: int, names: list[str]) -> None:
    for name in names:
        client = DeviceClient(
            client_id=name, ca_file=server_ca_file(), username=name, password="x", port=port
        )
        assert client.connected, client.error
        client.close()


def test_a_backlog_of_events_arrives_in_order_at_most_1000_a_post(start_broker, events_console):
    broker = start_broker(console_url=events_console.url)
    names = [f"ABCDEFGHIJdev{number:04d}" for number in range(CLIENTS)]
    connect_and_close(broker.options.key_port, names)

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


STREAM_SECONDS = 3.0
ROUNDS_PER_SECOND = 5  # the plugin's BACKGROUND_INTERVAL_MS is 200


def test_a_steady_stream_of_events_goes_a_few_times_a_second_not_after_every_connect(
    start_broker, events_console
):
    """Devices connecting all the time leave events pending after every POST; they wait for
    the next round instead of being posted, with a commands poll, as fast as the console answers."""
    events_console.events_delay = 0.1  # slower than devices connect: events are always pending
    events_console.accepting.set()
    broker = start_broker(console_url=events_console.url)
    with events_console.lock:
        polls_before, batches_before = events_console.command_polls, len(events_console.batches)
    names = []
    started = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        name = f"ABCDEFGHIJdev{len(names):04d}"
        connect_and_close(broker.options.key_port, [name])
        names.append(name)
    elapsed = time.monotonic() - started
    with events_console.lock:
        polls, batches = (
            events_console.command_polls - polls_before,
            len(events_console.batches) - batches_before,
        )

    rounds = elapsed * ROUNDS_PER_SECOND + 2
    assert len(names) > 1.5 * STREAM_SECONDS / events_console.events_delay  # faster than the console answers
    assert batches <= rounds, (batches, len(names))
    assert polls <= rounds + 1, (polls, len(names))
    deadline = time.monotonic() + TIMEOUT
    while len(events_console.events()) < 2 * len(names) + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    connected = [
        event["clientid"] for event in events_console.events() if event["event"] == "client.connected"
    ]
    assert connected == names
