"""Key devices on the broker's second listener: Tencent's username and HMAC password."""

from __future__ import annotations

import time

import pytest

from broker import decisions
from products import bundles
from tests.broker.devices import (
    PSK,
    connect_key,
    echoes,
    key_device,
    key_product,
    refused_reason,
    server_ca_file,
)
from tests.mqtt_client import NOT_AUTHORISED, DeviceClient

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("algorithm", [bundles.HMAC_SHA256, bundles.HMAC_SHA1])
def test_key_device_connects_with_a_good_hmac_password(broker, user, algorithm):
    device = key_device(key_product(user), "pump")
    client = connect_key(broker, device, algorithm=algorithm)
    assert client.connected, client.error
    assert echoes(client, f"{device.product.product_id}/pump/")
    client.close()
    assert refused_reason(device) == ""


def test_username_expiring_in_milliseconds_is_accepted(broker, user):
    device = key_device(key_product(user), "pump")
    client = connect_key(broker, device, expiry=int(time.time() * 1000) + 3_600_000)
    assert client.connected, client.error
    client.close()


def test_wrong_password_is_refused(broker, user):
    device = key_device(key_product(user), "pump")
    client = connect_key(broker, device, password="0" * 64 + ";hmacsha256")
    assert not client.connected
    assert client.connect_reason == NOT_AUTHORISED
    assert refused_reason(device) == decisions.PASSWORD_WRONG_REASON


def test_expired_username_is_refused(broker, user):
    device = key_device(key_product(user), "pump")
    client = connect_key(broker, device, expiry=int(time.time()) - 60)
    assert not client.connected
    assert client.connect_reason == NOT_AUTHORISED
    assert refused_reason(device).startswith("The username expired on ")


def test_wrong_client_id_is_refused(broker, user):
    product = key_product(user)
    device = key_device(product, "pump")
    key_device(product, "valve")
    # The valve's client id with the pump's username and password.
    client = connect_key(broker, device, client_id=f"{product.product_id}valve")
    assert not client.connected
    assert client.connect_reason == NOT_AUTHORISED


def test_key_device_cannot_use_another_devices_topic(broker, user):
    product = key_product(user)
    pump, valve = key_device(product, "pump"), key_device(product, "valve")
    pump_client, valve_client = connect_key(broker, pump), connect_key(broker, valve)
    assert pump_client.connected and valve_client.connected
    assert pump_client.subscribe(f"{product.product_id}/valve/#") == [128]
    assert valve_client.subscribe(f"{product.product_id}/valve/#") == [1]
    pump_client.publish(f"{product.product_id}/valve/set", b"open")
    assert valve_client.wait_for_messages(1, timeout=1.5) == []
    pump_client.close()
    valve_client.close()


def test_key_device_on_the_certificate_port_is_refused(broker, user):
    device = key_device(key_product(user), "pump")
    credentials = bundles.key_credentials(device.client_id, PSK, int(time.time()) + 60)
    # The certificate listener demands a client certificate in the TLS handshake.
    client = DeviceClient(
        client_id=device.client_id,
        ca_file=server_ca_file(),
        username=credentials.username,
        password=credentials.password,
        port=broker.options.port,
    )
    assert not client.connected
    assert client.connect_reason is None
