"""Each console action writes exactly one Audit Log entry, by the signed-in user, from the console."""

from __future__ import annotations

import pytest
from django.urls import reverse

from api.models import APIKey
from audit.models import AuditEntry
from batches import services as batch_services
from certificates.models import CACertificate
from products.models import Device, Product
from tests import pki
from tests.certificate_console import current_code, post_add_proven, register, update_url, upload
from tests.product_console import (
    CREATE_URL,
    add_url,
    device_url,
    make_device,
    make_product,
    product_form,
)

from .audit_support import assert_by_console, sole_entry

pytestmark = pytest.mark.django_db
Action = AuditEntry.Action


def test_registering_updating_and_deleting_a_ca(signed_in_client, user):
    key = pki.ec_key()
    ca = pki.make_ca("Audited Root CA", key=key)
    response = post_add_proven(signed_in_client, user, ca, name="audited_ca")
    assert response.status_code == 302
    stored = CACertificate.objects.get(owner=user, name="audited_ca")
    entry = sole_entry(user, Action.CA_REGISTERED)
    assert_by_console(entry, "alice")
    assert (entry.object_type, entry.object_id, entry.object_label) == ("ca", str(stored.pk), "audited_ca")
    assert entry.detail == "CN Audited Root CA"

    renewed = pki.make_ca("Audited Root CA", key=key)
    verification = pki.make_verification(current_code(user), renewed)
    response = signed_in_client.post(
        update_url(stored),
        {
            "ca_certificate": upload("ca.pem", renewed.pem),
            "verification_certificate": upload("verificationCert.crt", verification.pem),
        },
    )
    assert response.status_code == 302
    assert_by_console(sole_entry(user, Action.CA_UPDATED), "alice")

    response = signed_in_client.post(reverse("certificates:ca_delete", args=[stored.pk]))
    assert response.status_code == 302 and not CACertificate.objects.exists()
    entry = sole_entry(user, Action.CA_DELETED)
    assert_by_console(entry, "alice")
    assert entry.object_label == "audited_ca"
    assert AuditEntry.objects.count() == 3


def test_creating_forbidding_and_deleting_a_product(signed_in_client, user):
    response = signed_in_client.post(CREATE_URL, product_form(name="meters"))
    product = Product.objects.get(owner=user, name="meters")
    assert response.status_code == 302
    entry = sole_entry(user, Action.PRODUCT_CREATED)
    assert_by_console(entry, "alice")
    assert (entry.object_type, entry.object_id, entry.object_label) == (
        "product",
        product.product_id,
        "meters",
    )
    assert entry.detail == "CA: Platform CA"

    forbid = reverse("products:product_forbid", args=[product.product_id])
    signed_in_client.post(forbid, {"forbidden": "1"})
    signed_in_client.post(forbid, {"forbidden": "1"})  # already forbidden: no change, no entry
    assert_by_console(sole_entry(user, Action.PRODUCT_FORBIDDEN), "alice")
    signed_in_client.post(forbid, {"forbidden": "0"})
    assert_by_console(sole_entry(user, Action.PRODUCT_ALLOWED), "alice")

    response = signed_in_client.post(reverse("products:product_delete", args=[product.product_id]))
    assert response.status_code == 302 and not Product.objects.exists()
    assert_by_console(sole_entry(user, Action.PRODUCT_DELETED), "alice")
    assert AuditEntry.objects.count() == 4


def test_adding_disabling_enabling_and_deleting_a_device(signed_in_client, user):
    product = make_product(user, "keyed", auth_method=Product.AuthMethod.KEY)
    response = signed_in_client.post(add_url(product), {"name": "gate_01", "psk": ""})
    assert response.status_code == 302
    device = Device.objects.get(product=product, name="gate_01")
    entry = sole_entry(user, Action.DEVICE_ADDED)
    assert_by_console(entry, "alice")
    assert (entry.object_type, entry.object_id, entry.object_label) == (
        "device",
        f"{product.product_id}/gate_01",
        "gate_01",
    )
    assert entry.detail == "Pre-shared key"

    signed_in_client.post(device_url(device, "device_enable"), {"enabled": "0"})
    assert Device.objects.get(pk=device.pk).enabled is False
    assert_by_console(sole_entry(user, Action.DEVICE_DISABLED), "alice")
    signed_in_client.post(device_url(device, "device_enable"), {"enabled": "1"})
    assert_by_console(sole_entry(user, Action.DEVICE_ENABLED), "alice")

    response = signed_in_client.post(device_url(device, "device_delete"))
    assert response.status_code == 302 and not Device.objects.exists()
    assert_by_console(sole_entry(user, Action.DEVICE_DELETED), "alice")


def test_disabling_several_devices_from_the_list_writes_one_entry_each(signed_in_client, user):
    product = make_product(user, "fleet", auth_method=Product.AuthMethod.KEY)
    for name in ("a1", "a2", "a3"):
        make_device(product, name)
    url = reverse("products:devices_enable", args=[product.product_id])
    signed_in_client.post(url, {"disable": ["a1", "a3"]})
    entries = AuditEntry.objects.filter(action=Action.DEVICE_DISABLED).order_by("object_label")
    assert [entry.object_label for entry in entries] == ["a1", "a3"]
    assert {entry.actor for entry in entries} == {"alice"}


def test_downloading_the_private_key_and_the_bundle(signed_in_client, user):
    product = make_product(user, "platform")
    device = make_device(product, "cam_01")
    response = signed_in_client.get(device_url(device, "device_private_key"))
    assert response.status_code == 200 and b"PRIVATE KEY" in response.content
    entry = sole_entry(user, Action.PRIVATE_KEY_DOWNLOADED)
    assert_by_console(entry, "alice")
    assert entry.object_id == f"{product.product_id}/cam_01"

    response = signed_in_client.get(device_url(device, "device_bundle"))
    assert response.status_code == 200
    entry = sole_entry(user, Action.BUNDLE_DOWNLOADED)
    assert_by_console(entry, "alice")
    assert entry.detail == "Without a private key."


def test_a_bundle_that_carries_the_key_is_one_entry_saying_so(signed_in_client, user):
    device = make_device(make_product(user, "platform"), "cam_02")
    response = signed_in_client.get(device_url(device, "device_bundle"))
    assert response.status_code == 200
    entry = sole_entry(user, Action.BUNDLE_DOWNLOADED)
    assert entry.detail == "With the private key, which the console then erased."
    assert not AuditEntry.objects.filter(action=Action.PRIVATE_KEY_DOWNLOADED).exists()


def test_creating_disabling_and_deleting_an_api_key(signed_in_client, user):
    response = signed_in_client.post(reverse("api:key_create"))
    assert response.status_code == 200
    key = APIKey.objects.get(owner=user)
    entry = sole_entry(user, Action.API_KEY_CREATED)
    assert_by_console(entry, "alice")
    assert (entry.object_type, entry.object_id) == ("api_key", key.secret_id)

    signed_in_client.post(reverse("api:key_enable", args=[key.pk]), {"enabled": "0"})
    assert_by_console(sole_entry(user, Action.API_KEY_DISABLED), "alice")
    signed_in_client.post(reverse("api:key_delete", args=[key.pk]))
    assert not APIKey.objects.exists()
    assert_by_console(sole_entry(user, Action.API_KEY_DELETED), "alice")


def test_a_batch_is_one_entry_not_one_per_device(signed_in_client, user, django_capture_on_commit_callbacks):
    product = make_product(user, "batched")
    with django_capture_on_commit_callbacks(execute=False):
        response = signed_in_client.post(
            reverse("batches:batch_create", args=[product.product_id]),
            {"method": "auto", "quantity": "5", "prefix": "node_"},
        )
    assert response.status_code == 302
    entry = sole_entry(user, Action.BATCH_STARTED)
    assert_by_console(entry, "alice")
    assert entry.object_type == "batch" and entry.object_label == "batched"
    assert entry.detail.startswith(f"5 device(s) for product {product.product_id}")
    batch_services.run_batch(int(entry.object_id))  # as the worker would
    assert Device.objects.filter(product=product).count() == 5
    assert AuditEntry.objects.exclude(action=Action.PRODUCT_CREATED).count() == 1


def test_services_called_outside_a_request_record_as_the_system(user):
    ca = register(user, pki.make_ca("System Root CA", key=pki.ec_key()), "system_ca")
    entry = sole_entry(user, Action.CA_REGISTERED)
    assert (entry.actor, entry.source, entry.ip) == ("system", "system", None)
    assert entry.object_id == str(ca.pk)
