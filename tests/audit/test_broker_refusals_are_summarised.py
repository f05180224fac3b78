"""A device the broker keeps refusing is one entry per reason per ten minutes, not one per retry."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from audit import services
from audit.models import AuditEntry
from tests.broker.link_service import authenticate, key_device, key_login

pytestmark = pytest.mark.django_db
ACTION = AuditEntry.Action.CONNECTION_REFUSED


def disabled_key_device(user):
    device = key_device(user)
    device.enabled = False
    device.save(update_fields=["enabled"])
    return device


def test_a_disabled_device_retrying_is_one_entry_by_the_broker(client, user):
    device = disabled_key_device(user)
    for _ in range(4):
        answer = authenticate(client, peerhost="192.0.2.7", **key_login(device))
        assert answer["result"] == "deny"
    entry = AuditEntry.objects.get(action=ACTION)
    assert entry.account_id == user.pk
    assert (entry.source, entry.actor, entry.ip) == ("broker", device.client_id, "192.0.2.7")
    assert (entry.object_type, entry.object_id) == ("device", f"{device.product.product_id}/meter_01")
    assert entry.detail.startswith(f"{answer['code']}: {answer['reason']}")
    assert entry.detail.endswith("(repeats within 10 minutes are not listed)")


def test_another_reason_is_another_entry(client, user):
    device = key_device(user)
    authenticate(client, **key_login(device, expiry=1))  # an expiry in the past
    authenticate(
        client, clientid=device.client_id, username=key_login(device)["username"], password="x;hmacsha256"
    )
    codes = [entry.detail.split(":", 1)[0] for entry in AuditEntry.objects.filter(action=ACTION)]
    assert len(codes) == 2 and len(set(codes)) == 2


def test_a_refusal_after_the_window_is_a_new_entry(client, user, monkeypatch):
    device = disabled_key_device(user)
    authenticate(client, **key_login(device))
    # The summary's clock, eleven minutes on: the first entry is now outside the window.
    later = timezone.now() + services.REFUSAL_SUMMARY_WINDOW + timedelta(minutes=1)
    monkeypatch.setattr(services, "timezone", SimpleNamespace(now=lambda: later))
    authenticate(client, **key_login(device))
    assert AuditEntry.objects.filter(action=ACTION).count() == 2


def test_an_unknown_device_writes_nothing(client, user):
    answer = authenticate(client, clientid="NOPRODUCTXnobody", username="u", password="p")
    assert answer["result"] == "deny"
    assert not AuditEntry.objects.exists()
