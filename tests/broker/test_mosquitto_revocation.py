"""Revocations reach connected devices on every broker, and the reconnect is refused.

No timing is asserted (a loaded machine is slow): each wait has a generous timeout and
`make bench` measures how fast the cut-off is.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from products import services as product_services
from tests.broker.devices import connect_key, echoes, key_device, key_product, platform_device
from tests.mqtt_client import NOT_AUTHORISED

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_connected_device_is_cut_off_when_disabled_and_cannot_reconnect(broker, user, signed_in_client):
    device = platform_device(user, "lamp")
    other = platform_device(user, "watcher", product=device.device.product)
    client, other_client = device.connect(broker), other.connect(broker)
    assert client.connected and other_client.connected

    product_id = device.device.product.product_id
    response = signed_in_client.post(
        reverse("products:device_enable", args=[product_id, "lamp"]), {"enabled": "0"}
    )
    assert response.status_code == 302
    assert client.wait_for_disconnect()
    again = device.connect(broker)
    assert not again.connected
    assert again.connect_reason == NOT_AUTHORISED
    # The other device of the product is untouched.
    assert echoes(other_client, other.topic_prefix)
    other_client.close()


def test_deleted_key_device_is_cut_off(broker, user):
    product = key_product(user)
    device = key_device(product, "pump")
    client = connect_key(broker, device)
    assert client.connected
    product_services.delete_device(device=device)
    assert client.wait_for_disconnect()
    assert connect_key(broker, device).connect_reason == NOT_AUTHORISED


def test_forbidding_a_product_cuts_off_all_its_devices(broker, user):
    first = platform_device(user, "first")
    second = platform_device(user, "second", product=first.device.product)
    clients = [first.connect(broker), second.connect(broker)]
    assert all(client.connected for client in clients)
    product_services.set_products_forbidden(products=[first.device.product], forbidden=True)
    assert all(client.wait_for_disconnect() for client in clients)
    assert first.connect(broker).connect_reason == NOT_AUTHORISED


def test_one_revocation_cuts_the_device_off_on_either_of_two_brokers(start_broker, user):
    east, west = start_broker("east"), start_broker("west")
    on_east = platform_device(user, "on-east")
    on_west = platform_device(user, "on-west", product=on_east.device.product)
    east_client, west_client = on_east.connect(east), on_west.connect(west)
    assert east_client.connected and west_client.connected

    product_services.set_devices_enabled(product=on_west.device.product, names=["on-west"], enabled=False)
    assert west_client.wait_for_disconnect()
    assert on_west.connect(east).connect_reason == NOT_AUTHORISED
    assert on_west.connect(west).connect_reason == NOT_AUTHORISED

    product_services.set_devices_enabled(product=on_east.device.product, names=["on-east"], enabled=False)
    assert east_client.wait_for_disconnect()
