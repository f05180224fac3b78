"""POST /broker/v1/events: connects and disconnects become the device's status."""

import pytest

from products import services
from products.models import Device, Product

from .link_service import (
    BROKER,
    at,
    call,
    connected,
    disconnected,
    key_device,
    milliseconds,
    platform_device,
    send_events,
    started,
)

pytestmark = pytest.mark.django_db

OTHER_BROKER = "broker-b:8883"


def online_count(device: Device) -> int:
    return Product.objects.get(pk=device.product_id).online_count


def test_connect_marks_the_device_online_and_activated(client, user):
    device = platform_device(user)

    answer = send_events(client, [connected(device.client_id, at(0), peerhost="203.0.113.9")])

    assert answer == {"accepted": 1}
    device.refresh_from_db()
    assert device.online is True
    assert device.status == "Online"
    assert device.activated_at == at(0)
    assert device.last_online_at == at(0)
    assert device.last_offline_at is None
    assert device.client_ip == "203.0.113.9"
    assert device.connected_broker == BROKER
    assert online_count(device) == 1


def test_disconnect_marks_the_device_offline(client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))])

    send_events(client, [disconnected(device.client_id, at(30))])

    device.refresh_from_db()
    assert device.online is False
    assert device.status == "Offline"
    assert device.activated_at == at(0)
    assert device.last_online_at == at(0)
    assert device.last_offline_at == at(30)
    assert online_count(device) == 0


def test_reconnect_keeps_first_online_and_moves_last_online(client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0)), disconnected(device.client_id, at(10))])

    send_events(client, [connected(device.client_id, at(20), peerhost="192.0.2.44")])

    device.refresh_from_db()
    assert device.online is True
    assert device.activated_at == at(0)
    assert device.last_online_at == at(20)
    assert device.last_offline_at == at(10)
    assert device.client_ip == "192.0.2.44"
    assert online_count(device) == 1


def test_connect_and_disconnect_in_one_batch_end_offline(client, user):
    device = platform_device(user)

    send_events(client, [connected(device.client_id, at(0)), disconnected(device.client_id, at(1))])

    device.refresh_from_db()
    assert (device.online, device.activated_at, device.last_offline_at) == (False, at(0), at(1))
    assert online_count(device) == 0


def test_late_disconnect_of_an_older_connection_does_not_mark_a_reconnected_device_offline(client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))])
    send_events(client, [connected(device.client_id, at(20))])

    # The broker noticed the first connection's end only now; it ended before the reconnect.
    send_events(client, [disconnected(device.client_id, at(15))])

    device.refresh_from_db()
    assert device.online is True
    assert device.last_online_at == at(20)
    assert device.last_offline_at is None
    assert online_count(device) == 1


def test_late_connect_report_does_not_undo_a_later_one(client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(20), peerhost="192.0.2.2")])

    send_events(client, [connected(device.client_id, at(5), peerhost="192.0.2.1")])

    device.refresh_from_db()
    assert (device.last_online_at, device.client_ip) == (at(20), "192.0.2.2")


def test_out_of_order_events_in_one_batch_are_applied_by_time(client, user):
    device = platform_device(user)

    send_events(client, [disconnected(device.client_id, at(10)), connected(device.client_id, at(0))])

    device.refresh_from_db()
    assert (device.online, device.last_offline_at) == (False, at(10))


def test_device_moving_to_another_broker_is_not_marked_offline_by_the_first(client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))], broker=BROKER)
    send_events(client, [connected(device.client_id, at(10))], broker=OTHER_BROKER)

    # The first broker reports the old connection's end after the device moved.
    send_events(client, [disconnected(device.client_id, at(12))], broker=BROKER)

    device.refresh_from_db()
    assert device.online is True
    assert device.connected_broker == OTHER_BROKER
    assert online_count(device) == 1

    send_events(client, [disconnected(device.client_id, at(40))], broker=OTHER_BROKER)
    device.refresh_from_db()
    assert (device.online, device.last_offline_at) == (False, at(40))
    assert online_count(device) == 0


def test_broker_restart_marks_only_its_devices_offline(client, user):
    on_a = platform_device(user, name="on_a")
    on_b = services.create_device(product=on_a.product, name="on_b", credentials=services.DeviceCredentials())
    send_events(client, [connected(on_a.client_id, at(0))], broker=BROKER)
    send_events(client, [connected(on_b.client_id, at(0))], broker=OTHER_BROKER)
    assert online_count(on_a) == 2

    send_events(client, [started(at(60))], broker=BROKER)

    on_a.refresh_from_db()
    on_b.refresh_from_db()
    assert (on_a.online, on_a.last_offline_at) == (False, at(60))
    assert on_b.online is True
    assert online_count(on_a) == 1


def test_broker_restart_then_reconnect_in_one_batch(client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))])

    send_events(client, [started(at(60)), connected(device.client_id, at(61))])

    device.refresh_from_db()
    assert (device.online, device.last_online_at, device.last_offline_at) == (True, at(61), at(60))
    assert online_count(device) == 1


def test_unknown_and_malformed_client_ids_are_ignored(client, user):
    device = platform_device(user)

    answer = send_events(
        client,
        [
            connected(f"{device.product.product_id}ghost", at(0)),
            connected("not a client id", at(0)),
            connected("ZZZZZZZZZZdev_01", at(0)),
            connected(device.client_id, at(1)),
        ],
    )

    assert answer == {"accepted": 4}
    device.refresh_from_db()
    assert device.online is True
    assert Device.objects.filter(online=True).count() == 1


def test_emqx_webhook_events_are_accepted(client, user):
    device = key_device(user)

    call(
        client,
        "events",
        {
            "event": "client.connected",
            "clientid": device.client_id,
            "peername": "198.51.100.20:51234",
            "connected_at": milliseconds(at(0)),
            "node": "emqx@10.0.0.1",
        },
    )
    device.refresh_from_db()
    assert (device.online, device.client_ip, device.connected_broker) == (
        True,
        "198.51.100.20",
        "emqx@10.0.0.1",
    )

    response = call(
        client,
        "events",
        {
            "event": "client.disconnected",
            "clientid": device.client_id,
            "reason": "normal",
            "disconnected_at": milliseconds(at(5)),
            "node": "emqx@10.0.0.1",
        },
    )

    assert response.json() == {"accepted": 1}
    device.refresh_from_db()
    assert (device.online, device.last_offline_at) == (False, at(5))


def test_other_event_kinds_are_counted_but_change_nothing(client, user):
    device = platform_device(user)

    answer = send_events(client, [{"event": "session.created", "clientid": device.client_id, "timestamp": 1}])

    assert answer == {"accepted": 1}
    device.refresh_from_db()
    assert device.status == "Not activated"


def test_deleting_an_online_device_lowers_the_online_count(client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))])

    services.delete_device(device=device)

    assert Product.objects.get(pk=device.product_id).online_count == 0


def test_a_batch_of_100_events_costs_a_bounded_number_of_queries(client, user, django_assert_max_num_queries):
    product = platform_device(user, name="dev_000").product
    names = [f"dev_{index:03}" for index in range(1, 50)]
    for name in names:
        services.create_device(product=product, name=name, credentials=services.DeviceCredentials())
    events = [connected(f"{product.product_id}{name}", at(0)) for name in ["dev_000", *names]]
    events += [disconnected(f"{product.product_id}{name}", at(5)) for name in names[:25]]
    events += [connected(f"{product.product_id}ghost_{index}", at(0)) for index in range(25)]
    assert len(events) == 100

    # The transaction's savepoint and its release, the products, the locked devices, one bulk
    # update of the devices and one of the products' online counts: not one per event.
    with django_assert_max_num_queries(6):
        assert send_events(client, events) == {"accepted": 100}

    assert Device.objects.filter(product=product, online=True).count() == 25
    assert Product.objects.get(pk=product.pk).online_count == 25
