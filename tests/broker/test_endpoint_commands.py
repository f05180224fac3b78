"""GET /broker/v1/commands: what brokers must do since their cursor (kick, kick by prefix, publish)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from broker.models import BrokerCommand
from broker.receivers import COMMAND_LIFETIME
from products import services

from .link_service import BROKER, key_device, platform_device

pytestmark = pytest.mark.django_db


def poll(client, after=None, broker=BROKER) -> dict:
    query = {"broker": broker} if after is None else {"broker": broker, "after": after}
    response = client.get(
        "/broker/v1/commands", query, HTTP_AUTHORIZATION=f"Bearer {settings.IOTHUB_BROKER_TOKEN}"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_start_up_poll_returns_only_the_newest_cursor(client, user):
    device = platform_device(user)
    services.set_devices_enabled(product=device.product, names=[device.name], enabled=False)
    newest = BrokerCommand.objects.latest("id").id

    assert poll(client) == {"cursor": newest, "kick": [], "kick_prefixes": [], "publish": []}


def test_empty_table_start_up_cursor_is_zero(client):
    assert poll(client) == {"cursor": 0, "kick": [], "kick_prefixes": [], "publish": []}


def test_disabling_a_device_kicks_its_client(client, user):
    device = platform_device(user)
    cursor = poll(client)["cursor"]

    services.set_devices_enabled(product=device.product, names=[device.name], enabled=False)

    answer = poll(client, cursor)
    assert answer["kick"] == [device.client_id]
    assert answer["kick_prefixes"] == []
    assert answer["cursor"] > cursor
    assert poll(client, answer["cursor"])["kick"] == []


def test_enabling_or_disabling_an_already_disabled_device_kicks_nothing_more(client, user):
    device = platform_device(user)
    services.set_devices_enabled(product=device.product, names=[device.name], enabled=False)
    cursor = poll(client)["cursor"]

    services.set_devices_enabled(product=device.product, names=[device.name], enabled=False)
    services.set_devices_enabled(product=device.product, names=[device.name], enabled=True)

    assert poll(client, cursor)["kick"] == []


def test_deleting_a_device_kicks_its_client(client, user):
    device = key_device(user)
    cursor = poll(client)["cursor"]

    services.delete_device(device=device)

    assert poll(client, cursor)["kick"] == [device.client_id]


def test_changing_a_psk_kicks_the_device(client, user):
    device = key_device(user)
    cursor = poll(client)["cursor"]

    services.update_device_psk(device=device, psk="bmV3LWtleS1mb3ItbWV0ZXI=")

    assert poll(client, cursor)["kick"] == [device.client_id]


def test_forbidding_a_product_kicks_every_client_with_its_prefix(client, user):
    device = platform_device(user)
    cursor = poll(client)["cursor"]

    services.set_products_forbidden(products=[device.product], forbidden=True)

    answer = poll(client, cursor)
    assert answer["kick_prefixes"] == [device.product.product_id]
    assert answer["kick"] == []


def test_allowing_a_product_again_kicks_nobody(client, user):
    device = platform_device(user)
    services.set_products_forbidden(products=[device.product], forbidden=True)
    cursor = poll(client)["cursor"]

    services.set_products_forbidden(products=[device.product], forbidden=False)

    assert poll(client, cursor)["kick_prefixes"] == []


def test_deleting_a_product_kicks_its_prefix(client, user):
    device = platform_device(user)
    product = device.product
    services.delete_device(device=device)
    cursor = poll(client)["cursor"]

    services.delete_product(product=product)

    assert poll(client, cursor)["kick_prefixes"] == [product.product_id]


def test_publish_commands_go_only_to_their_broker(client):
    cursor = poll(client)["cursor"]
    message = {"topic": "ABCDEFGHIJdev/down", "payload_base64": "aGk=", "qos": 1, "retain": False}
    BrokerCommand.objects.create(
        kind=BrokerCommand.Kind.PUBLISH, target="ABCDEFGHIJdev", broker_id=BROKER, payload=message
    )
    BrokerCommand.objects.create(
        kind=BrokerCommand.Kind.PUBLISH, target="ABCDEFGHIJdev", broker_id="other:8883", payload=message
    )
    newest = BrokerCommand.objects.latest("id").id

    mine, theirs = poll(client, cursor), poll(client, cursor, broker="other:8883")

    assert mine == {"cursor": newest, "kick": [], "kick_prefixes": [], "publish": [message]}
    assert theirs["publish"] == [message]
    assert poll(client, cursor, broker="third:8883") == {
        "cursor": newest,
        "kick": [],
        "kick_prefixes": [],
        "publish": [],
    }


def test_a_cursor_beyond_the_newest_command_starts_again(client):
    BrokerCommand.objects.create(kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJdev")
    newest = BrokerCommand.objects.latest("id").id

    assert poll(client, newest + 1000)["cursor"] == newest


def test_commands_older_than_their_lifetime_are_pruned(client, user):
    stale = BrokerCommand.objects.create(
        kind=BrokerCommand.Kind.KICK,
        target="ABCDEFGHIJold",
        created=timezone.now() - COMMAND_LIFETIME - timedelta(seconds=1),
    )
    fresh = BrokerCommand.objects.create(kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJnew")
    device = platform_device(user)

    services.set_devices_enabled(product=device.product, names=[device.name], enabled=False)

    assert not BrokerCommand.objects.filter(pk=stale.pk).exists()
    assert BrokerCommand.objects.filter(pk=fresh.pk).exists()
    assert list(BrokerCommand.objects.order_by("id").values_list("target", flat=True)) == [
        "ABCDEFGHIJnew",
        device.client_id,
    ]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"broker": ""},
        {"broker": BROKER, "after": "x"},
        {"broker": BROKER, "after": "-1"},
        {"broker": BROKER, "after": "9" * 19},
    ],
)
def test_malformed_poll_is_a_400(client, query):
    response = client.get(
        "/broker/v1/commands", query, HTTP_AUTHORIZATION=f"Bearer {settings.IOTHUB_BROKER_TOKEN}"
    )

    assert response.status_code == 400
    assert "error" in response.json()
