"""`broker.decisions`: the device's topic list and the filter rule the plugin and /authorize apply."""

import pytest

from broker import decisions
from products import services

from .link_service import call, key_device

ACL = decisions.device_acl("AB12CD34EF", "dev_01")


def test_device_acl_is_its_prefix_and_tencents_system_topics():
    assert [rule.as_dict() for rule in ACL] == [
        {"permission": "allow", "action": "all", "topic": "AB12CD34EF/dev_01/#"},
        {"permission": "allow", "action": "publish", "topic": "$shadow/operation/AB12CD34EF/dev_01"},
        {"permission": "allow", "action": "publish", "topic": "$ota/report/AB12CD34EF/dev_01"},
        {"permission": "allow", "action": "publish", "topic": "$sys/operation/AB12CD34EF/dev_01"},
        {"permission": "allow", "action": "publish", "topic": "$rrpc/txd/AB12CD34EF/dev_01/+"},
        {"permission": "allow", "action": "subscribe", "topic": "$shadow/operation/result/AB12CD34EF/dev_01"},
        {"permission": "allow", "action": "subscribe", "topic": "$ota/update/AB12CD34EF/dev_01"},
        {"permission": "allow", "action": "subscribe", "topic": "$sys/operation/result/AB12CD34EF/dev_01"},
        {"permission": "allow", "action": "subscribe", "topic": "$rrpc/rxd/AB12CD34EF/dev_01/+"},
        {"permission": "allow", "action": "subscribe", "topic": "$broadcast/rxd/AB12CD34EF/dev_01"},
    ]


@pytest.mark.parametrize(
    ("topic", "action", "allowed"),
    [
        ("AB12CD34EF/dev_01/data", "publish", True),
        ("AB12CD34EF/dev_01/a/b/c", "subscribe", True),
        ("AB12CD34EF/dev_01/#", "subscribe", True),
        ("AB12CD34EF/dev_01/+/x", "subscribe", True),
        ("AB12CD34EF/dev_02/data", "publish", False),
        ("AB12CD34EF/+/data", "subscribe", False),
        ("AB12CD34EF/#", "subscribe", False),
        ("#", "subscribe", False),
        ("$shadow/operation/AB12CD34EF/dev_01", "publish", True),
        ("$shadow/operation/AB12CD34EF/dev_01", "subscribe", False),
        ("$shadow/operation/result/AB12CD34EF/dev_01", "subscribe", True),
        ("$shadow/operation/result/AB12CD34EF/dev_01", "publish", False),
        ("$rrpc/txd/AB12CD34EF/dev_01/123", "publish", True),
        ("$rrpc/rxd/AB12CD34EF/dev_01/+", "subscribe", True),
        ("$rrpc/rxd/AB12CD34EF/dev_01/#", "subscribe", False),
        ("$rrpc/rxd/AB12CD34EF/dev_01/1/2", "subscribe", False),
        ("$broadcast/rxd/AB12CD34EF/dev_02", "subscribe", False),
    ],
)
def test_topic_allowed(topic, action, allowed):
    assert decisions.topic_allowed(ACL, topic, action) is allowed


@pytest.mark.parametrize(
    ("client_id", "parts"),
    [
        ("AB12CD34EFdev_01", ("AB12CD34EF", "dev_01")),
        ("AB12CD34EFa:b-c_d", ("AB12CD34EF", "a:b-c_d")),
        ("AB12CD34EF", None),
        ("ab12cd34efdev", None),
        ("AB12CD34EFdev/01", None),
        ("AB12CD34EF" + "x" * 49, None),
    ],
)
def test_split_client_id(client_id, parts):
    assert decisions.split_client_id(client_id) == parts


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("topic", "action", "result"),
    [
        ("{prefix}data", "publish", "allow"),
        ("{prefix}#", "subscribe", "allow"),
        ("other/data", "publish", "deny"),
    ],
)
def test_authorize_endpoint_answers_from_the_same_acl(client, user, topic, action, result):
    device = key_device(user)
    prefix = f"{device.product.product_id}/{device.name}/"

    response = call(
        client,
        "authorize",
        {"clientid": device.client_id, "topic": topic.format(prefix=prefix), "action": action},
    )

    assert response.status_code == 200
    assert response.json() == {"result": result}


@pytest.mark.django_db
def test_authorize_denies_a_disabled_device_and_an_unknown_client(client, user):
    device = key_device(user)
    services.set_devices_enabled(product=device.product, names=[device.name], enabled=False)
    topic = f"{device.product.product_id}/{device.name}/data"

    disabled = call(client, "authorize", {"clientid": device.client_id, "topic": topic, "action": "publish"})
    unknown = call(client, "authorize", {"clientid": "nobody", "topic": "a", "action": "publish"})

    assert disabled.json() == {"result": "deny"}
    assert unknown.json() == {"result": "deny"}
