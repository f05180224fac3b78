"""Publish Message on the device page: a publish command for the broker holding the device."""

import base64

import pytest
from django.urls import reverse

from broker import publishing
from broker.models import BrokerCommand

from ..broker.link_service import at, connected, disconnected, platform_device, send_events
from ..product_console import assert_message, device_url

pytestmark = pytest.mark.django_db


def publish_url(device) -> str:
    return reverse("products:device_publish", args=[device.product.product_id, device.name])


def test_message_to_an_online_device_becomes_a_publish_command_for_its_broker(client, signed_in_client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))], broker="broker-b:8883")
    topic = f"{device.product.product_id}/{device.name}/control"

    response = signed_in_client.post(
        publish_url(device), {"topic": topic, "payload": '{"led": "on"}', "qos": "1"}, follow=True
    )

    assert response.redirect_chain == [(device_url(device), 302)]
    assert_message(response, f'Message published to "{topic}" (QoS 1).', level="success")
    command = BrokerCommand.objects.get(kind=BrokerCommand.Kind.PUBLISH)
    assert command.broker_id == "broker-b:8883"
    assert command.target == device.client_id
    assert command.payload == {
        "topic": topic,
        "payload_base64": base64.b64encode(b'{"led": "on"}').decode(),
        "qos": 1,
        "retain": False,
    }


def test_message_to_an_offline_device_is_refused(client, signed_in_client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0)), disconnected(device.client_id, at(1))])

    response = signed_in_client.post(
        publish_url(device),
        {"topic": f"{device.product.product_id}/{device.name}/control", "payload": "x", "qos": "0"},
        follow=True,
    )

    assert_message(response, publishing.DEVICE_OFFLINE.format(name=device.name))
    assert not BrokerCommand.objects.filter(kind=BrokerCommand.Kind.PUBLISH).exists()


def test_message_to_a_never_connected_device_is_refused(signed_in_client, user):
    device = platform_device(user)

    response = signed_in_client.post(
        publish_url(device),
        {"topic": f"{device.product.product_id}/{device.name}/control", "payload": "x", "qos": "0"},
        follow=True,
    )

    assert_message(response, publishing.DEVICE_OFFLINE.format(name=device.name))
    assert not BrokerCommand.objects.filter(kind=BrokerCommand.Kind.PUBLISH).exists()


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("{other}/control", publishing.TOPIC_OUTSIDE_PREFIX),
        ("{prefix}", publishing.TOPIC_OUTSIDE_PREFIX),
        ("$shadow/operation/result/{product}/{name}", publishing.TOPIC_OUTSIDE_PREFIX),
        ("{prefix}a/#", publishing.TOPIC_INVALID),
        ("{prefix}+/x", publishing.TOPIC_INVALID),
        ("{prefix}a//b", publishing.TOPIC_INVALID),
        ("{prefix}a\x07b", publishing.TOPIC_INVALID),
    ],
)
def test_topic_outside_the_devices_prefix_is_refused(client, signed_in_client, user, topic, message):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))])
    product_id = device.product.product_id
    prefix = f"{product_id}/{device.name}/"
    topic = topic.format(prefix=prefix, other=f"{product_id}/dev_02", product=product_id, name=device.name)

    response = signed_in_client.post(
        publish_url(device), {"topic": topic, "payload": "x", "qos": "0"}, follow=True
    )

    assert_message(response, message.format(prefix=prefix))
    assert not BrokerCommand.objects.filter(kind=BrokerCommand.Kind.PUBLISH).exists()


def test_qos_2_is_refused(client, signed_in_client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))])

    response = signed_in_client.post(
        publish_url(device),
        {"topic": f"{device.product.product_id}/{device.name}/control", "payload": "x", "qos": "2"},
        follow=True,
    )

    assert_message(response, "QoS: Select a valid choice. 2 is not one of the available choices.")
    assert not BrokerCommand.objects.filter(kind=BrokerCommand.Kind.PUBLISH).exists()


def test_oversized_payload_is_refused(client, signed_in_client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))])

    response = signed_in_client.post(
        publish_url(device),
        {
            "topic": f"{device.product.product_id}/{device.name}/control",
            "payload": "x" * (32 * 1024 + 1),
            "qos": "0",
        },
        follow=True,
    )

    assert_message(response, "Payload: Ensure this value has at most 32768 characters (it has 32769).")
    assert not BrokerCommand.objects.exists()


def test_multibyte_payload_over_the_byte_limit_is_refused_by_the_service(client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))])

    with pytest.raises(publishing.ServiceError) as refused:
        publishing.publish_message(
            device=device, topic=f"{device.product.product_id}/{device.name}/t", payload="é".encode() * 20000
        )

    assert (refused.value.code, refused.value.message) == (
        "InvalidParameterValue",
        publishing.PAYLOAD_TOO_LARGE,
    )


def test_another_accounts_device_is_a_404(client, signed_in_client, other_user):
    device = platform_device(other_user)
    send_events(client, [connected(device.client_id, at(0))])

    response = signed_in_client.post(
        publish_url(device),
        {"topic": f"{device.product.product_id}/{device.name}/control", "payload": "x", "qos": "0"},
    )

    assert response.status_code == 404
    assert not BrokerCommand.objects.exists()


def test_device_page_shows_the_publish_form(signed_in_client, user):
    device = platform_device(user)

    page = signed_in_client.get(device_url(device)).content.decode()

    assert "<h2>Publish Message</h2>" in page
    assert f'action="{publish_url(device)}"' in page
    assert f'value="{device.product.product_id}/{device.name}/control"' in page
    assert 'name="qos"' in page
