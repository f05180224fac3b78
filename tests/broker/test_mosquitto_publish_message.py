"""Publish Message reaches the connected device through the broker that holds it."""

from __future__ import annotations

import time

import pytest

from broker.publishing import publish_message
from products.models import Device
from tests.broker.devices import connect_key, key_device, key_product, platform_device

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

TIMEOUT = 30.0


def wait_until_online(device: Device) -> Device:
    """The broker reports the connect in its next event batch; generous, not timed."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        device.refresh_from_db()
        if device.online:
            return device
        time.sleep(0.1)
    raise AssertionError(f"{device.name} never showed online")


def test_published_message_reaches_the_connected_device(broker, user):
    device = key_device(key_product(user), "pump")
    client = connect_key(broker, device)
    assert client.connected
    assert client.subscribe(f"{device.product.product_id}/pump/#") == [1]
    device = wait_until_online(device)
    assert device.connected_broker == broker.options.broker_id

    publish_message(
        device=device, topic=f"{device.product.product_id}/pump/set", payload=b'{"on": true}', qos=1
    )
    assert client.wait_for_messages(1, timeout=TIMEOUT) == [
        (f"{device.product.product_id}/pump/set", b'{"on": true}')
    ]
    client.close()


def test_published_message_goes_only_to_the_broker_holding_the_device(start_broker, user):
    # Two brokers; the command names the one the device is on, so only west may deliver it.
    start_broker("east")
    west = start_broker("west")
    device = platform_device(user, "lamp")
    listener = device.connect(west)
    assert listener.connected
    assert listener.subscribe(f"{device.topic_prefix}#") == [1]
    assert wait_until_online(device.device).connected_broker == west.options.broker_id
    publish_message(device=device.device, topic=f"{device.topic_prefix}cmd", payload=b"blink")
    assert listener.wait_for_messages(1, timeout=TIMEOUT) == [(f"{device.topic_prefix}cmd", b"blink")]
    listener.close()


def test_a_published_message_is_delivered_once_though_the_console_sends_it_again(broker, user):
    # The console sends its last seconds of commands on every poll (ids can commit late);
    # a second message arriving proves polls went on, and the first came only once.
    device = key_device(key_product(user), "valve")
    client = connect_key(broker, device)
    assert client.connected
    topic = f"{device.product.product_id}/valve/set"
    assert client.subscribe(f"{device.product.product_id}/valve/#") == [1]
    device = wait_until_online(device)

    publish_message(device=device, topic=topic, payload=b"open", qos=1)
    assert client.wait_for_messages(1, timeout=TIMEOUT) == [(topic, b"open")]
    publish_message(device=device, topic=topic, payload=b"close", qos=1)

    assert client.wait_for_messages(2, timeout=TIMEOUT) == [(topic, b"open"), (topic, b"close")]
    client.close()
