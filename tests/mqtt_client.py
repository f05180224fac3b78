"""A small synchronous MQTT-over-TLS client for broker tests (paho-mqtt underneath)."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

TIMEOUT = 10.0
# A CONNACK refusal as paho's reason code: it gives MQTT 3.1.1's "not authorised" (5)
# the MQTT 5 number, 135 "Not authorized".
NOT_AUTHORISED = 135


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
    """One device connection; `connected` is False when TLS or MQTT refused it.

    Certificate devices pass `cert_file` and `key_file`; Key devices pass `username`
    and `password`. `connect_reason` is the CONNACK code (None when none came).
    """

    def __init__(
        self,
        *,
        client_id: str,
        ca_file: Path,
        port: int,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.granted_qos: list[int] | None = None
        self.connect_reason: int | None = None
        self.disconnected = False
        self.error: str | None = None
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
        )
        self.client.tls_set(
            ca_certs=str(ca_file),
            certfile=str(cert_file) if cert_file else None,
            keyfile=str(key_file) if key_file else None,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda client, userdata, message: self.received.append(
            (message.topic, message.payload)
        )
        self.client.on_subscribe = self._on_subscribe
        try:
            self.client.connect("127.0.0.1", port, keepalive=30)
            self._loop_until(lambda: self.connect_reason is not None or self.disconnected)
        except (ssl.SSLError, OSError) as error:
            self.error = str(error)

    @property
    def connected(self) -> bool:
        return self.error is None and self.connect_reason == 0 and not self.disconnected

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connect_reason = reason_code.value

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.disconnected = True

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
                self.disconnected = True
                return condition()
        return condition()

    def subscribe(self, topic: str) -> list[int] | None:
        """The granted QoS per filter (128: refused), or None when the broker answered nothing."""
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

    def wait_for_disconnect(self, timeout: float = 30.0) -> bool:
        """True once the broker closed the connection (generous timeout: no timing is asserted)."""
        return self._loop_until(lambda: self.disconnected, timeout=timeout)

    def close(self) -> None:
        try:
            self.client.disconnect()
            self.client.loop(timeout=0.1)
        except Exception:  # already gone: nothing to close
            pass
