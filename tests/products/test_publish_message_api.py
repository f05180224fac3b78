"""The API's PublishMessage and the status fields of DescribeDevice/DescribeDevices, through Tencent's SDK."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from broker import publishing
from broker.models import BrokerCommand
from products.models import Device
from tests.api_support import assert_refused, build, client_for
from tests.tencent_sdk import models

from ..broker.link_service import at, connected, disconnected, platform_device, send_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(live_server, user):
    return client_for(live_server, user)


def publish(api, device: Device, topic: str, payload: str, **fields):
    return api.PublishMessage(
        build(
            models.PublishMessageRequest,
            ProductId=device.product.product_id,
            DeviceName=device.name,
            Topic=topic,
            Payload=payload,
            **fields,
        )
    )


def describe(api, device: Device):
    return api.DescribeDevice(
        build(models.DescribeDeviceRequest, ProductId=device.product.product_id, DeviceName=device.name)
    )


def test_publish_to_an_online_device_writes_a_publish_command_for_its_broker(api, user):
    device = platform_device(user)
    send_events(Client(), [connected(device.client_id, at(0))], broker="broker-b:8883")
    topic = f"{device.product.product_id}/{device.name}/control"

    publish(api, device, topic, "aGVsbG8=", Qos=1, PayloadEncoding="base64")

    command = BrokerCommand.objects.get(kind=BrokerCommand.Kind.PUBLISH)
    assert (command.broker_id, command.target) == ("broker-b:8883", device.client_id)
    assert command.payload == {"topic": topic, "payload_base64": "aGVsbG8=", "qos": 1, "retain": False}


def test_plain_payload_is_sent_as_utf8(api, user):
    device = platform_device(user)
    send_events(Client(), [connected(device.client_id, at(0))])

    publish(api, device, f"{device.product.product_id}/{device.name}/control", "héllo")

    command = BrokerCommand.objects.get(kind=BrokerCommand.Kind.PUBLISH)
    assert base64.b64decode(command.payload["payload_base64"]) == "héllo".encode()
    assert command.payload["qos"] == 0


def test_publish_to_an_offline_device_is_device_offline(api, user):
    device = platform_device(user)

    assert_refused(
        lambda: publish(api, device, f"{device.product.product_id}/{device.name}/control", "x"),
        publishing.DEVICE_OFFLINE_CODE,
        publishing.DEVICE_OFFLINE.format(name=device.name),
    )
    assert not BrokerCommand.objects.exists()


def test_topic_outside_the_prefix_is_invalid_topic_name(api, user):
    device = platform_device(user)
    send_events(Client(), [connected(device.client_id, at(0))])
    prefix = f"{device.product.product_id}/{device.name}/"

    assert_refused(
        lambda: publish(api, device, f"{device.product.product_id}/other/control", "x"),
        publishing.INVALID_TOPIC_CODE,
        publishing.TOPIC_OUTSIDE_PREFIX.format(prefix=prefix),
    )
    assert not BrokerCommand.objects.filter(kind=BrokerCommand.Kind.PUBLISH).exists()


def test_payload_that_is_not_base64_is_refused(api, user):
    device = platform_device(user)
    send_events(Client(), [connected(device.client_id, at(0))])

    assert_refused(
        lambda: publish(
            api, device, f"{device.product.product_id}/{device.name}/c", "%%%", PayloadEncoding="base64"
        ),
        "InvalidParameterValue",
        "Payload must be valid base64 when PayloadEncoding is base64.",
    )


def test_another_accounts_device_is_product_not_exist(api, user, other_user):
    device = platform_device(other_user)
    send_events(Client(), [connected(device.client_id, at(0))])

    assert_refused(
        lambda: publish(api, device, f"{device.product.product_id}/{device.name}/control", "x"),
        "ResourceNotFound.ProductNotExist",
        f'There is no product with the ID "{device.product.product_id}".',
    )
    assert not BrokerCommand.objects.exists()


def test_describe_device_reports_status_fields_through_connect_and_disconnect(api, user):
    device = platform_device(user)
    never = describe(api, device)
    send_events(Client(), [connected(device.client_id, at(0), peerhost="203.0.113.77")])
    online = describe(api, device)
    send_events(Client(), [disconnected(device.client_id, at(60))])
    offline = describe(api, device)
    send_events(Client(), [connected(device.client_id, at(120), peerhost="203.0.113.78")])
    again = describe(api, device)

    start = int(at(0).timestamp())
    assert (never.Online, never.LoginTime, never.FirstOnlineTime, never.LastOfflineTime, never.ClientIP) == (
        3,
        0,
        0,
        0,
        "",
    )
    assert (online.Online, online.LoginTime, online.FirstOnlineTime, online.ClientIP) == (
        1,
        start,
        start,
        "203.0.113.77",
    )
    assert (offline.Online, offline.LastOfflineTime) == (0, start + 60)
    assert (again.Online, again.LoginTime, again.FirstOnlineTime, again.LastOfflineTime, again.ClientIP) == (
        1,
        start + 120,
        start,
        start + 60,
        "203.0.113.78",
    )


def test_describe_devices_lists_the_status_fields(api, user):
    device = platform_device(user)
    send_events(Client(), [connected(device.client_id, at(0), peerhost="198.51.100.9")])

    listed = api.DescribeDevices(
        build(models.DescribeDevicesRequest, ProductId=device.product.product_id, Offset=0, Limit=10)
    ).Devices

    (info,) = listed
    assert (info.Online, info.LoginTime, info.FirstOnlineTime, info.LastOfflineTime, info.ClientIP) == (
        1,
        int(at(0).timestamp()),
        int(at(0).timestamp()),
        0,
        "198.51.100.9",
    )
