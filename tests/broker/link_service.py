"""Shared steps for the device link service tests: calling /broker/v1/… as a broker does.

Also for the Mosquitto tests: `key_device`, `platform_device` and `custom_ca_device`
make devices of each kind through the services, ready to connect.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.test import Client

from products import bundles
from products.models import Device, Product

from .. import pki
from ..product_console import custom_ca, device_leaf, make_device, make_product, register_ca

BROKER = "broker-a:8883"


def call(client: Client, endpoint: str, body, token: str | None = None):
    """POST a JSON body to /broker/v1/<endpoint> with the broker token (or `token`)."""
    token = settings.IOTHUB_BROKER_TOKEN if token is None else token
    return client.post(
        f"/broker/v1/{endpoint}",
        data=body if isinstance(body, str | bytes) else json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def authenticate(client: Client, **fields) -> dict:
    """The decision for a connect attempt; the response must be a 200."""
    body = {"clientid": "", "username": None, "password": None, "peerhost": "127.0.0.1", "broker": BROKER}
    body.update(fields)
    response = call(client, "authenticate", body)
    assert response.status_code == 200, response.content
    return response.json()


def milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def connected(client_id: str, at: datetime, peerhost: str = "198.51.100.7") -> dict:
    return {
        "event": "client.connected",
        "clientid": client_id,
        "peerhost": peerhost,
        "timestamp": milliseconds(at),
    }


def disconnected(client_id: str, at: datetime, reason: str = "normal") -> dict:
    return {
        "event": "client.disconnected",
        "clientid": client_id,
        "reason": reason,
        "timestamp": milliseconds(at),
    }


def started(at: datetime) -> dict:
    return {"event": "broker.started", "timestamp": milliseconds(at)}


def send_events(client: Client, events: list[dict], broker: str = BROKER) -> dict:
    response = call(client, "events", {"broker": broker, "events": events})
    assert response.status_code == 200, response.content
    return response.json()


START = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A fixed moment plus `seconds`: event times that tests can order."""
    return START + timedelta(seconds=seconds)


# Devices of each kind ----------------------------------------------------------


def key_device(owner, product_name: str = "meters", name: str = "meter_01", psk: str | None = None) -> Device:
    product = make_product(owner, product_name, auth_method=Product.AuthMethod.KEY)
    return make_device(product, name, psk=psk)


def platform_device(owner, product_name: str = "thermometers", name: str = "dev_01") -> Device:
    """A Platform-CA device; its certificate is `device.certificate_pem`."""
    return make_device(make_product(owner, product_name), name)


def custom_ca_device(
    owner,
    ca: pki.Issued | None = None,
    product_name: str = "sensors",
    name: str = "sensor_01",
    ca_name: str = "device_root_ca",
) -> tuple[Device, pki.Issued]:
    """A device of a product bound to `ca` (registered for `owner`), and its certificate."""
    ca = ca or custom_ca()
    product = make_product(owner, product_name, ca_certificate=register_ca(owner, ca, ca_name))
    leaf = device_leaf(product, name, ca)
    return make_device(product, name, certificate_data=leaf.pem), leaf


def key_login(device: Device, expiry: int | None = None, algorithm: str = bundles.HMAC_SHA256) -> dict:
    """The clientid, username and password a Key device sends, valid for an hour unless told."""
    credentials = bundles.key_credentials(
        device.client_id, device.psk, expiry or int(time.time()) + 3600, algorithm=algorithm
    )
    return {
        "clientid": credentials.client_id,
        "username": credentials.username,
        "password": credentials.password,
        "listener": "key",
    }
