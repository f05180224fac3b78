"""Real Mosquitto brokers with the iothub_auth plugin, asking pytest-django's live server."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from broker.config import BrokerOptions
from broker.services import Broker, build_plugin
from tests.mqtt_client import free_port
from tests.programs import require_program

from .doors import LeanDoorClient

DOORS = ("django-views", "lean-door")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The endpoint tests call /broker/v1/ through both doors: the same answers, the same writes."""
    if (
        metafunc.module.__name__.rpartition(".")[2].startswith("test_endpoint_")
        and "client" in metafunc.fixturenames
    ):
        metafunc.parametrize("client", DOORS, indirect=True)


@pytest.fixture
def client(request, client):
    """Django's test client, or (for the lean door) one that sends /broker/v1/ through it."""
    return LeanDoorClient(client) if getattr(request, "param", DOORS[0]) == "lean-door" else client


@pytest.fixture(scope="session")
def plugin() -> Path:
    """The plugin built from its source, as `make broker` builds it."""
    require_program("mosquitto" if shutil.which("mosquitto") else "/usr/sbin/mosquitto", "a real broker")
    require_program("gcc", "the broker plugin is built from C")
    require_program("make", "the broker plugin is built with make")
    require_program("openssl", "the trusted CAs are named by their OpenSSL subject hash")
    return build_plugin()


@pytest.fixture
def start_broker(plugin, live_server, settings) -> Iterator[Callable[..., Broker]]:
    """Start brokers on free loopback ports, each in a state directory of its own.

    The console's settings name the newest broker's ports, so bundles downloaded in a test
    print the ports it listens on. Every broker is stopped, by PID, when the test ends.
    """
    brokers: list[Broker] = []
    settings.IOTHUB_MQTT_HOST = "127.0.0.1"

    def start(broker_id: str = "test-broker", console_url: str | None = None) -> Broker:
        # Not under pytest's tmp_path: its parents are private to root, and Mosquitto drops
        # to the mosquitto user, which must be able to read the configuration.
        directory = Path(tempfile.mkdtemp(prefix="iothub-broker-", dir="/tmp"))
        options = BrokerOptions(
            bind_address="127.0.0.1",
            port=free_port(),
            key_port=free_port(),
            console_url=console_url or live_server.url,
            broker_id=broker_id,
        )
        broker = Broker(directory, options, host="127.0.0.1")
        brokers.append(broker)
        broker.start(plugin)
        settings.IOTHUB_MQTT_PORT = options.port
        settings.IOTHUB_MQTT_KEY_PORT = options.key_port
        return broker

    try:
        yield start
    finally:
        for broker in brokers:
            broker.stop()
            shutil.rmtree(broker.directory, ignore_errors=True)


@pytest.fixture
def broker(start_broker) -> Broker:
    return start_broker()
