"""Certificate devices on a real Mosquitto whose plugin asks the console (live_server).

One broker serves every account: the console, not the TLS layer, decides whose CA may
vouch for which device.
"""

from __future__ import annotations

import pytest

from broker import decisions
from products import services as product_services
from tests import pki
from tests.broker.devices import custom_ca_device, custom_ca_product, echoes, platform_device, refused_reason
from tests.mqtt_client import NOT_AUTHORISED
from tests.product_console import make_product, register_ca

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_platform_ca_device_connects_and_echoes_on_its_topic(broker, user):
    device = platform_device(user, "sensor-1")
    client = device.connect(broker)
    assert client.connected, client.error
    assert echoes(client, device.topic_prefix)
    client.close()
    device.device.refresh_from_db()
    assert device.device.last_refusal_reason == ""


def test_custom_ca_device_connects_and_echoes_on_its_topic(broker, user):
    product, ca = custom_ca_product(user, "meters", "Meters CA")
    device = custom_ca_device(product, "meter", ca)
    client = device.connect(broker)
    assert client.connected, client.error
    assert echoes(client, device.topic_prefix)
    client.close()


def test_device_cannot_use_another_devices_topics(broker, user):
    alice = platform_device(user, "alice")
    bob = platform_device(user, "bob", product=alice.device.product)
    alice_client, bob_client = alice.connect(broker), bob.connect(broker)
    assert alice_client.connected and bob_client.connected

    assert alice_client.subscribe(f"{bob.topic_prefix}#") == [128]  # refused in the SUBACK
    assert alice_client.subscribe("#") == [128]
    assert bob_client.subscribe(f"{bob.topic_prefix}#") == [1]
    alice_client.publish(f"{bob.topic_prefix}data", b"from alice")  # dropped by the broker
    bob_client.publish(f"{bob.topic_prefix}data", b"from bob")
    assert bob_client.wait_for_messages(1) == [(f"{bob.topic_prefix}data", b"from bob")]
    assert alice_client.received == []
    alice_client.close()
    bob_client.close()


def test_tencent_system_topics_of_the_device_are_allowed(broker, user):
    device = platform_device(user, "shadowed")
    path = f"{device.device.product.product_id}/{device.device.name}"
    client = device.connect(broker)
    assert client.connected, client.error
    assert client.subscribe(f"$shadow/operation/result/{path}") == [1]
    assert client.subscribe(f"$ota/update/{path}") == [1]
    assert client.subscribe(f"$shadow/operation/{path}") == [128]  # publish-only topic
    client.close()


def test_another_accounts_ca_with_the_right_common_name_is_refused(broker, user, other_user):
    product, own_ca = custom_ca_product(user, "meters", "Own CA")
    genuine = custom_ca_device(product, "meter", own_ca)
    # The other account registers a CA of its own, bound to a product (so the broker's TLS
    # layer trusts it), and mints a certificate with this account's Product ID and name.
    _, rogue_ca = custom_ca_product(other_user, "decoy", "Rogue CA")
    forged = pki.make_leaf(genuine.client_id, rogue_ca, key=pki.ec_key(), extended_key_usage=pki.CLIENT_AUTH)

    client = genuine.connect(broker)
    assert client.connected, client.error
    client.close()

    genuine.use(forged.pem, forged.key_pem)
    impostor = genuine.connect(broker)
    assert not impostor.connected
    assert impostor.connect_reason == NOT_AUTHORISED
    assert refused_reason(genuine.device) != ""


def test_deleted_and_readded_device_refuses_its_old_certificate(broker, user):
    product, ca = custom_ca_product(user, "meters", "Meters CA")
    old = custom_ca_device(product, "meter", ca)
    old_pem, old_key = old.cert_file.read_bytes(), old.key_file.read_bytes()
    product_services.delete_device(device=old.device)
    new = custom_ca_device(product, "meter", ca)

    client = new.connect(broker)
    assert client.connected, client.error
    client.close()

    new.use(old_pem, old_key)  # right CN, right CA, but not the registered certificate
    replaced = new.connect(broker)
    assert not replaced.connected
    assert replaced.connect_reason == NOT_AUTHORISED
    assert refused_reason(new.device) != ""


def test_certificate_device_with_another_client_id_is_refused(broker, user):
    device = platform_device(user, "sensor-2")
    client = device.connect(broker, client_id=f"{device.client_id}-listener")
    assert not client.connected
    assert client.connect_reason == NOT_AUTHORISED


def test_intermediate_ca_device_connects(broker, user):
    # The console knows only the intermediate; its root never registered.
    root = pki.make_ca("Unregistered Root", key=pki.ec_key())
    intermediate = pki.make_ca("Registered Intermediate", key=pki.ec_key(), issuer=root)
    product = make_product(
        user, "chained", ca_certificate=register_ca(user, intermediate, name="intermediate")
    )
    device = custom_ca_device(product, "leaf", intermediate)
    client = device.connect(broker)
    assert client.connected, client.error
    assert echoes(client, device.topic_prefix)
    client.close()


def test_ca_bound_after_the_broker_started_is_trusted_without_restart(broker, user):
    pid = broker.process.pid
    product, ca = custom_ca_product(user, "late", "Late CA")
    device = custom_ca_device(product, "late-1", ca)
    assert broker.refresh_trust()  # what run_broker does every 2 s
    client = device.connect(broker)
    assert client.connected, client.error
    client.close()
    assert broker.process.pid == pid


def test_refusal_reasons_are_the_consoles(broker, user):
    device = platform_device(user, "lamp")
    product_services.set_devices_enabled(product=device.device.product, names=["lamp"], enabled=False)
    client = device.connect(broker)
    assert client.connect_reason == NOT_AUTHORISED
    assert refused_reason(device.device) == decisions.DEVICE_DISABLED_REASON.format(name="lamp")
