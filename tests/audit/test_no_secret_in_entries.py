"""Handing out a private key, a PSK or a SecretKey is recorded, but the secret itself never is."""

from __future__ import annotations

import pytest
from django.urls import reverse

from api.models import APIKey
from audit.models import AuditEntry
from products.models import Product
from tests.product_console import device_url, make_device, make_product

pytestmark = pytest.mark.django_db

PSK = "c2VjcmV0LXByZS1zaGFyZWQta2V5LTEyMzQ="


def everything_stored() -> str:
    return "\n".join(" ".join(str(value) for value in row) for row in AuditEntry.objects.values_list())


def test_entries_never_hold_the_key_the_psk_or_the_secret_key(signed_in_client, user):
    platform_device = make_device(make_product(user, "platform"), "cam")
    key = signed_in_client.get(device_url(platform_device, "device_private_key")).content.decode()
    assert "PRIVATE KEY" in key
    keyed = make_product(user, "keyed", auth_method=Product.AuthMethod.KEY)
    psk_device = make_device(keyed, "gate", psk=PSK)
    assert signed_in_client.get(device_url(psk_device, "device_bundle")).status_code == 200
    signed_in_client.post(reverse("api:key_create"))
    secret_key = APIKey.objects.get(owner=user).secret_key

    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"private_key_downloaded", "bundle_downloaded", "api_key_created"} <= actions
    stored = everything_stored()
    key_body = "".join(key.strip().splitlines()[1:-1])
    for secret in (key_body, key_body[:40], PSK, secret_key):
        assert secret not in stored
