"""One client id, several connections: the plugin keeps the ACL of the connection that holds it."""

from __future__ import annotations

import pytest

from products import services as product_services
from tests.broker.devices import connect_key, echoes, key_device, key_product
from tests.mqtt_client import NOT_AUTHORISED

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_second_connection_with_the_same_id_takes_over_and_keeps_its_topics(broker, user):
    device = key_device(key_product(user), "pump")
    first = connect_key(broker, device)
    assert first.connected
    second = connect_key(broker, device)
    assert second.connected
    # Mosquitto closes the first connection; its close must not take the second one's ACL.
    assert first.wait_for_disconnect()
    assert echoes(second, f"{device.product.product_id}/pump/")
    second.close()


def test_refused_connection_with_the_same_id_leaves_the_connected_one_alone(broker, user):
    device = key_device(key_product(user), "pump")
    connected = connect_key(broker, device)
    assert connected.connected
    refused = connect_key(broker, device, password="0" * 40 + ";hmacsha1")
    assert refused.connect_reason == NOT_AUTHORISED
    assert echoes(connected, f"{device.product.product_id}/pump/")
    connected.close()


def test_kicked_device_enabled_again_connects_with_fresh_topics(broker, user):
    product = key_product(user)
    device = key_device(product, "pump")
    client = connect_key(broker, device)
    assert client.connected
    product_services.set_devices_enabled(product=product, names=["pump"], enabled=False)
    assert client.wait_for_disconnect()
    product_services.set_devices_enabled(product=product, names=["pump"], enabled=True)
    again = connect_key(broker, device)
    assert again.connected
    assert echoes(again, f"{product.product_id}/pump/")
    again.close()
