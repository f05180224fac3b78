"""Revocation, renewal and CA rollover through a real Mosquitto with the plugin.

No timing is asserted: each wait has a generous timeout (see test_mosquitto_revocation).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from lifecycle import services as lifecycle
from lifecycle.models import RevokedCertificate
from products import services as product_services
from products.models import Device
from tests import pki
from tests.broker.devices import (
    CertificateDevice,
    custom_ca_device,
    custom_ca_product,
    echoes,
    platform_device,
)
from tests.mqtt_client import NOT_AUTHORISED
from tests.product_console import register_ca

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_a_revoked_device_is_cut_off_and_cannot_reconnect(broker, user, signed_in_client):
    device = platform_device(user, "lamp")
    other = platform_device(user, "watcher", product=device.device.product)
    client, other_client = device.connect(broker), other.connect(broker)
    assert client.connected and other_client.connected

    response = signed_in_client.post(
        reverse("lifecycle:device_revoke", args=[device.device.product.product_id, "lamp"]),
        {"reason": "keyCompromise"},
    )

    assert response.status_code == 302
    assert client.wait_for_disconnect()
    again = device.connect(broker)
    assert not again.connected
    assert again.connect_reason == NOT_AUTHORISED
    assert echoes(other_client, other.topic_prefix)
    other_client.close()


def test_a_renewed_device_moves_to_its_new_certificate(broker, user):
    device = platform_device(user, "meter")
    old_pem, old_key = device.cert_file.read_bytes(), device.key_file.read_bytes()
    assert device.connect(broker).connected

    lifecycle.renew_certificate(device=device.device, credentials=product_services.DeviceCredentials())
    renewed = Device.objects.get(pk=device.device.pk)
    device.use(renewed.certificate_pem.encode(), product_services.take_private_key(device=renewed).encode())
    on_new = device.connect(broker)

    assert on_new.connected
    assert echoes(on_new, device.topic_prefix)
    assert RevokedCertificate.objects.get(device=renewed).reason == "superseded"
    on_new.close()
    device.use(old_pem, old_key)
    assert device.connect(broker).connect_reason == NOT_AUTHORISED


def test_devices_of_both_cas_connect_during_a_rollover(broker, user):
    product, old_ca = custom_ca_product(user, "rolling", "Rolling Old CA")
    staying = custom_ca_device(product, "staying", old_ca)
    moving = custom_ca_device(product, "moving", old_ca)
    new_ca = pki.make_ca("Rolling New CA", key=pki.ec_key())
    lifecycle.set_second_ca(product=product, ca_certificate=register_ca(user, new_ca, "rolling_new_ca"))
    new_leaf = pki.make_leaf(
        f"{product.product_id}moving", new_ca, key=pki.ec_key(), extended_key_usage=pki.CLIENT_AUTH
    )
    lifecycle.renew_certificate(
        device=moving.device, credentials=product_services.DeviceCredentials(certificate_data=new_leaf.pem)
    )
    moved = CertificateDevice(Device.objects.get(pk=moving.device.pk), new_leaf.pem, new_leaf.key_pem)

    old_generation, new_generation = staying.connect(broker), moved.connect(broker)

    assert old_generation.connected and new_generation.connected
    assert echoes(new_generation, moved.topic_prefix)
    old_generation.close()
    new_generation.close()
