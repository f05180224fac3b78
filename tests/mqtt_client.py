"""A small synchronous MQTT-over-TLS client for broker tests (paho-mqtt underneath)."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class DeviceClient:
    """One device connection; `connected` is False when TLS or MQTT refused it."""

    def __init__(
        self,
        *,
        client_id: str,
        ca_file: Path,
        cert_file: Path,
        key_file: Path,
        port: int,
    ) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.granted_qos: list[int] | None = None
        self.connect_reason: int | None = None
        self.error: str | None = None
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
        )
        self.client.tls_set(ca_certs=str(ca_file), certfile=str(cert_file), keyfile=str(key_file))
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda client, userdata, message: self.received.append(
            (message.topic, message.payload)
        )
        self.client.on_subscribe = self._on_subscribe
        try:
            self.client.connect("127.0.0.1", port, keepalive=30)
            self._loop_until(lambda: self.connect_reason is not None)
        except (ssl.SSLError, OSError) as error:
            self.error = str(error)

    @property
    def connected(self) -> bool:
        return self.error is None and self.connect_reason == 0

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connect_reason = reason_code.value

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.granted_qos = [code.value for code in reason_codes]

    def _loop_until(self, condition, timeout: float = TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.client.loop(timeout=0.1)
            if condition():
                return True
            if result not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_AGAIN):
                self.error = self.error or mqtt.error_string(result)
                return False
        return condition()

    def subscribe(self, topic: str) -> list[int] | None:
        self.granted_qos = None
        self.client.subscribe(topic, qos=1)
        self._loop_until(lambda: self.granted_qos is not None)
        return self.granted_qos

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        self._loop_until(info.is_published, timeout=5)

    def wait_for_messages(self, count: int, timeout: float = 3.0) -> list[tuple[str, bytes]]:
        self._loop_until(lambda: len(self.received) >= count, timeout=timeout)
        return self.received

    def close(self) -> None:
        try:
            self.client.disconnect()
            self.client.loop(timeout=0.1)
        except Exception:  # already gone: nothing to close
            pass
