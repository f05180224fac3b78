"""Revoke Certificate on the device page: the certificate shows Revoked, the broker kicks and refuses it."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from broker import decisions
from certificates import crl
from lifecycle import services
from lifecycle.models import PlatformCRL, RevokedCertificate

from ..broker.link_service import custom_ca_device, key_device, platform_device
from ..lifecycle_console import connect, kicked_client_ids, lifecycle_url
from ..product_console import assert_message, device_url, text

pytestmark = pytest.mark.django_db


def revoke(client, device, reason="keyCompromise"):
    return client.post(lifecycle_url(device, "revoke"), {"reason": reason}, follow=True)


def test_revoking_cuts_the_device_off_and_refuses_it_afterwards(signed_in_client, client, user):
    device = platform_device(user)
    assert connect(client, device, device.certificate_pem)["result"] == "allow"

    response = revoke(signed_in_client, device)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == device_url(device)
    assert_message(
        response,
        f'The certificate of "{device.name}" (serial {device.certificate_serial_hex}) was revoked '
        "(key compromise); the device was disconnected.",
        "success",
    )
    assert '<span class="badge text-bg-danger">Revoked</span>' in text(response)
    revocation = RevokedCertificate.objects.get(device=device)
    assert (revocation.fingerprint, revocation.serial_hex, revocation.reason) == (
        device.certificate_fingerprint,
        device.certificate_serial_hex,
        "keyCompromise",
    )
    assert revocation.ca_certificate is None
    assert kicked_client_ids() == [device.client_id]
    answer = connect(client, device, device.certificate_pem)
    assert answer["result"] == "deny"
    assert answer["code"] == decisions.CERTIFICATE_REVOKED
    assert answer["reason"] == decisions.CERTIFICATE_REVOKED_REASON.format(
        serial=device.certificate_serial_hex,
        date=revocation.revoked_at.strftime("%Y-%m-%d %H:%M UTC"),
        reason="key compromise",
    )
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CERTIFICATE_REVOKED)
    assert entry.object_label == device.name
    assert entry.detail == f"Serial {device.certificate_serial_hex}: Key compromise"


def test_revoking_a_platform_ca_device_signs_a_new_crl_listing_it(signed_in_client, user):
    first, second = platform_device(user, name="dev_01"), platform_device(user, "other", name="dev_02")

    revoke(signed_in_client, first, "cessationOfOperation")
    number_after_first = PlatformCRL.objects.get(kind="device").number
    revoke(signed_in_client, second, "superseded")

    stored = PlatformCRL.objects.get(kind="device")
    assert stored.number == number_after_first + 1
    listed = {entry.serial_hex: entry.reason for entry in crl.read_crl(bytes(stored.der)).entries}
    assert listed == {
        first.certificate_serial_hex: "cessationOfOperation",
        second.certificate_serial_hex: "superseded",
    }


def test_custom_ca_device_is_revoked_for_the_broker_but_not_in_the_platform_crl(
    signed_in_client, client, user
):
    device, leaf = custom_ca_device(user)

    response = revoke(signed_in_client, device, "superseded")

    assert response.status_code == 200
    revocation = RevokedCertificate.objects.get(device=device)
    assert revocation.ca_certificate == device.product.ca_certificate
    assert connect(client, device, leaf.pem)["code"] == decisions.CERTIFICATE_REVOKED
    assert not PlatformCRL.objects.exists()


def test_revoking_twice_says_when_it_was_revoked_and_changes_nothing(signed_in_client, user):
    device = platform_device(user)
    revoke(signed_in_client, device)
    revocation = RevokedCertificate.objects.get()

    response = revoke(signed_in_client, device, "superseded")

    assert_message(
        response,
        services.ALREADY_REVOKED.format(
            date=revocation.revoked_at.strftime("%Y-%m-%d %H:%M UTC"), reason="Key compromise"
        ),
    )
    assert RevokedCertificate.objects.get().reason == "keyCompromise"
    assert kicked_client_ids() == [device.client_id]


@pytest.mark.parametrize("reason", ["", "caCompromise", "removeFromCRL", "keyCompromise\x00"])
def test_a_reason_the_page_does_not_offer_is_refused(signed_in_client, client, user, reason):
    device = platform_device(user)

    response = revoke(signed_in_client, device, reason)

    assert_message(response, services.UNKNOWN_REASON)
    assert not RevokedCertificate.objects.exists()
    assert kicked_client_ids() == []
    assert connect(client, device, device.certificate_pem)["result"] == "allow"


def test_a_key_device_has_no_certificate_to_revoke(signed_in_client, user):
    device = key_device(user)

    response = revoke(signed_in_client, device)

    assert_message(response, services.NO_CERTIFICATE)
    assert not RevokedCertificate.objects.exists()


def test_another_accounts_device_is_404_and_stays_connected(client, user, other_user):
    device = platform_device(other_user)
    client.force_login(user)

    response = client.post(lifecycle_url(device, "revoke"), {"reason": "keyCompromise"})

    assert response.status_code == 404
    assert not RevokedCertificate.objects.exists()
    assert kicked_client_ids() == []


def test_revoke_needs_a_post(signed_in_client, user):
    device = platform_device(user)

    response = signed_in_client.get(lifecycle_url(device, "revoke"))

    assert response.status_code == 405
    assert not RevokedCertificate.objects.exists()


def test_the_device_page_offers_revoke_with_the_three_reasons(signed_in_client, user):
    device = platform_device(user)

    page = text(signed_in_client.get(device_url(device)))

    assert "Revoke Certificate" in page
    assert "Renew Certificate" in page
    assert '<span class="badge text-bg-success">Valid</span>' in page
    for value, label in [
        ("keyCompromise", "Key compromise"),
        ("superseded", "Superseded"),
        ("cessationOfOperation", "Cessation of operation"),
    ]:
        assert f'<option value="{value}"' in page and label in page
