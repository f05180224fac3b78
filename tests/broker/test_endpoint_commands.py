"""GET /broker/v1/commands: what brokers must do since their cursor (kick, kick by prefix, publish)."""

import base64
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from broker import selectors
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

    assert poll(client) == {"cursor": newest, "kick": [], "kick_prefixes": [], "publish": [], "commands": []}


def test_empty_table_start_up_cursor_is_zero(client):
    assert poll(client) == {"cursor": 0, "kick": [], "kick_prefixes": [], "publish": [], "commands": []}


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

    assert mine == {
        "cursor": newest,
        "kick": [],
        "kick_prefixes": [],
        "publish": [message],
        "commands": [{"id": newest - 1, "kind": "publish", **message}],
    }
    assert theirs["publish"] == [message]
    assert theirs["commands"] == [{"id": newest, "kind": "publish", **message}]
    assert poll(client, cursor, broker="third:8883") == {
        "cursor": newest,
        "kick": [],
        "kick_prefixes": [],
        "publish": [],
        "commands": [],
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


def test_every_command_comes_with_its_id(client, user):
    device = platform_device(user)
    cursor = poll(client)["cursor"]

    services.set_devices_enabled(product=device.product, names=[device.name], enabled=False)

    kick = BrokerCommand.objects.get(id__gt=cursor)
    assert poll(client, cursor)["commands"] == [{"id": kick.id, "kind": "kick", "target": device.client_id}]


def test_a_command_committed_late_below_the_cursor_is_still_delivered(client):
    # A long transaction took its id first and committed after the broker moved past it.
    late_id = BrokerCommand.objects.create(kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJlate").id
    BrokerCommand.objects.filter(id=late_id).delete()
    BrokerCommand.objects.create(kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJsoon")
    cursor = poll(client, late_id - 1)["cursor"]

    BrokerCommand.objects.create(id=late_id, kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJlate")

    answer = poll(client, cursor)
    assert answer["cursor"] == cursor
    assert answer["kick"] == []
    assert {"id": late_id, "kind": "kick", "target": "ABCDEFGHIJlate"} in answer["commands"]
    assert BrokerCommand.objects.filter(id=late_id, target="ABCDEFGHIJlate").exists()


def test_commands_older_than_the_trailing_window_are_not_sent_again(client):
    old = BrokerCommand.objects.create(
        kind=BrokerCommand.Kind.KICK,
        target="ABCDEFGHIJold",
        created=timezone.now() - selectors.TRAILING_WINDOW - timedelta(seconds=1),
    )
    recent = BrokerCommand.objects.create(kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJnew")

    answer = poll(client, recent.id)

    assert answer["commands"] == [{"id": recent.id, "kind": "kick", "target": "ABCDEFGHIJnew"}]
    assert old.id not in [command["id"] for command in answer["commands"]]


def test_late_commands_for_another_broker_are_not_sent_again(client):
    other = BrokerCommand.objects.create(
        kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJdev", broker_id="b:1"
    )

    assert poll(client, other.id)["commands"] == []


def full_size_message(number: int) -> dict:
    payload = base64.b64encode(bytes([number]) * 48_000).decode()
    return {"topic": f"ABCDEFGHIJdev/{number}", "payload_base64": payload, "qos": 0, "retain": False}


def test_a_burst_of_large_publishes_is_paged_by_bytes_and_the_kick_behind_it_arrives(client):
    cursor = poll(client)["cursor"]
    messages = [full_size_message(number) for number in range(100)]
    BrokerCommand.objects.bulk_create(
        BrokerCommand(
            kind=BrokerCommand.Kind.PUBLISH, target="ABCDEFGHIJdev", broker_id=BROKER, payload=message
        )
        for message in messages
    )
    kick = BrokerCommand.objects.create(kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJdev")

    published, kicked, pages = [], [], 0
    while cursor < kick.id:
        response = client.get(
            "/broker/v1/commands",
            {"broker": BROKER, "after": cursor},
            HTTP_AUTHORIZATION=f"Bearer {settings.IOTHUB_BROKER_TOKEN}",
        )
        assert response.status_code == 200
        assert len(response.content) < 2 * selectors.PAGE_PAYLOAD_BYTES
        answer = response.json()
        assert answer["cursor"] > cursor
        new = [command for command in answer["commands"] if command["id"] > cursor]
        assert [command["id"] for command in new][-1] == answer["cursor"]
        published += answer["publish"]
        kicked += answer["kick"]
        cursor, pages = answer["cursor"], pages + 1

    assert published == messages
    assert kicked == ["ABCDEFGHIJdev"]
    assert pages >= 5


def test_the_window_resent_does_not_stop_the_cursor(client):
    BrokerCommand.objects.bulk_create(
        BrokerCommand(
            kind=BrokerCommand.Kind.PUBLISH,
            target="ABCDEFGHIJdev",
            broker_id=BROKER,
            payload=full_size_message(n),
        )
        for n in range(30)
    )
    behind = BrokerCommand.objects.latest("id").id
    kick = BrokerCommand.objects.create(kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJdev")

    answer = poll(client, behind)

    assert answer["cursor"] == kick.id
    assert answer["kick"] == ["ABCDEFGHIJdev"]


def test_a_smaller_page_limit_is_honoured(client):
    first = BrokerCommand.objects.create(kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJone")
    BrokerCommand.objects.create(kind=BrokerCommand.Kind.KICK, target="ABCDEFGHIJtwo")
    response = client.get(
        "/broker/v1/commands",
        {"broker": BROKER, "after": first.id - 1, "limit": 1},
        HTTP_AUTHORIZATION=f"Bearer {settings.IOTHUB_BROKER_TOKEN}",
    )

    assert response.status_code == 200
    assert response.json()["kick"] == ["ABCDEFGHIJone"]
    assert response.json()["cursor"] == first.id


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"broker": ""},
        {"broker": BROKER, "after": "x"},
        {"broker": BROKER, "after": "-1"},
        {"broker": BROKER, "after": "9" * 19},
        {"broker": BROKER, "after": "1", "limit": "-1"},
        {"broker": BROKER, "after": "1", "limit": "many"},
    ],
)
def test_malformed_poll_is_a_400(client, query):
    response = client.get(
        "/broker/v1/commands", query, HTTP_AUTHORIZATION=f"Bearer {settings.IOTHUB_BROKER_TOKEN}"
    )

    assert response.status_code == 400
    assert "error" in response.json()


def test_the_trailing_window_ends_before_the_plugin_forgets_the_ids_it_applied():
    """A row sent again after the plugin forgot its id would be applied twice (a second kick)."""
    source = (Path(settings.BASE_DIR) / "broker" / "plugin" / "iothub_auth.c").read_text()
    remembered_ms = int(re.search(r"#define REMEMBER_APPLIED_MS (\d+)LL", source).group(1))
    poll_ms = int(re.search(r"#define BACKGROUND_INTERVAL_MS (\d+)L", source).group(1))

    assert selectors.TRAILING_WINDOW.total_seconds() * 1000 + 2 * poll_ms < remembered_ms
    assert selectors.TRAILING_WINDOW.total_seconds() >= 20  # a long transaction is still caught
