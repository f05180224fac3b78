"""Renew Certificate: a new certificate, the old one kept until the device uses the new one or 7 days pass."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEntry
from broker import decisions
from certificates import crl, x509
from lifecycle import services
from lifecycle.models import PlatformCRL, PreviousCertificate, RevokedCertificate
from products import services as product_services
from products.models import Device

from .. import pki
from ..broker.link_service import custom_ca_device, key_device, platform_device
from ..certificate_console import assert_field_error
from ..lifecycle_console import connect, kicked_client_ids, lifecycle_url
from ..product_console import assert_message, device_leaf, text, upload

pytestmark = pytest.mark.django_db


def renew(client, device, **data):
    return client.post(lifecycle_url(device, "renew"), data, follow=True)


def renew_generated(client, device):
    return renew(client, device, certificate_source="generate")


def test_platform_device_gets_a_new_key_and_certificate(signed_in_client, user):
    device = platform_device(user)
    product_services.take_private_key(device=device)
    old_fingerprint = device.certificate_fingerprint

    response = renew_generated(signed_in_client, device)

    renewed = Device.objects.get(pk=device.pk)
    assert response.redirect_chain[-1][0] == renewed.get_absolute_url()
    assert_message(
        response,
        f'"{device.name}" has a new certificate (serial {renewed.certificate_serial_hex}). The old one keeps '
        "working until the device connects with the new one, or for 7 days.",
        "success",
    )
    assert renewed.certificate_fingerprint != old_fingerprint
    assert renewed.private_key_retrievable
    assert "Download Device Private Key" in text(response)
    previous = PreviousCertificate.objects.get(device=renewed)
    assert previous.fingerprint == old_fingerprint
    assert previous.ca_certificate is None
    overlap = previous.accepted_until - timezone.now()
    assert timedelta(days=6, hours=23) < overlap <= timedelta(days=7)
    assert "keeps working until the device connects with its new certificate" in text(response)
    key = serialization.load_pem_private_key(product_services.take_private_key(device=renewed).encode(), None)
    certificate = cx509.load_pem_x509_certificate(renewed.certificate_pem.encode())
    assert certificate.public_key().public_numbers() == key.public_key().public_numbers()
    assert certificate.extensions.get_extension_for_class(cx509.CRLDistributionPoints)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CERTIFICATE_RENEWED)
    assert entry.object_label == device.name


def test_old_and_new_both_work_until_the_new_one_connects(signed_in_client, client, user):
    device = platform_device(user)
    old_pem = device.certificate_pem
    renew_generated(signed_in_client, device)
    new_pem = Device.objects.get(pk=device.pk).certificate_pem

    assert connect(client, device, old_pem)["result"] == "allow"
    assert PreviousCertificate.objects.filter(device=device).exists()
    assert connect(client, device, new_pem)["result"] == "allow"

    assert not PreviousCertificate.objects.filter(device=device).exists()
    superseded = RevokedCertificate.objects.get(device=device)
    assert (superseded.reason, superseded.source) == ("superseded", "renewal")
    assert connect(client, device, old_pem)["code"] == decisions.CERTIFICATE_REVOKED
    assert connect(client, device, new_pem)["result"] == "allow"
    # The connection being made is the new one: nothing is kicked.
    assert kicked_client_ids() == []
    assert AuditEntry.objects.get(action=AuditEntry.Action.CERTIFICATE_REVOKED).detail == (
        f"Serial {superseded.serial_hex}: Superseded ({services.SUPERSEDED_NEW_CONNECTED})"
    )
    listed = crl.read_crl(bytes(PlatformCRL.objects.get(kind="device").der)).entries
    assert [(entry.serial_hex, entry.reason) for entry in listed] == [(superseded.serial_hex, "superseded")]


def test_after_seven_days_the_old_certificate_is_refused_and_revoked(signed_in_client, client, user):
    device = platform_device(user)
    old_pem = device.certificate_pem
    renew_generated(signed_in_client, device)
    PreviousCertificate.objects.filter(device=device).update(
        accepted_until=timezone.now() - timedelta(seconds=1)
    )

    answer = connect(client, device, old_pem)

    assert answer["result"] == "deny"
    assert RevokedCertificate.objects.get(device=device).reason == "superseded"
    assert not PreviousCertificate.objects.exists()
    # A connection still on the old certificate is cut.
    assert kicked_client_ids() == [device.client_id]
    assert AuditEntry.objects.get(action=AuditEntry.Action.CERTIFICATE_REVOKED).detail.endswith(
        f"Superseded ({services.SUPERSEDED_OVERLAP_ENDED})"
    )
    assert connect(client, device, old_pem)["code"] == decisions.CERTIFICATE_REVOKED


def test_overdue_overlaps_end_without_any_connection(signed_in_client, user):
    device, other = platform_device(user), platform_device(user, "other", name="dev_02")
    renew_generated(signed_in_client, device)
    renew_generated(signed_in_client, other)
    PreviousCertificate.objects.filter(device=device).update(
        accepted_until=timezone.now() - timedelta(minutes=1)
    )

    call_command("supersede_renewals")

    assert list(RevokedCertificate.objects.values_list("device__name", flat=True)) == [device.name]
    assert list(PreviousCertificate.objects.values_list("device__name", flat=True)) == [other.name]
    listed = crl.read_crl(bytes(PlatformCRL.objects.get(kind="device").der)).revoked_serials
    assert listed == {RevokedCertificate.objects.get().serial_hex}


def test_the_served_crl_lists_overlaps_that_ran_out(signed_in_client, client, user):
    device = platform_device(user)
    old_serial = device.certificate_serial_hex
    renew_generated(signed_in_client, device)
    PreviousCertificate.objects.update(accepted_until=timezone.now() - timedelta(minutes=1))

    served = client.get("/crl/device.crl")

    assert crl.read_crl(served.content).revoked_serials == {old_serial}


def test_platform_device_renews_from_a_csr(signed_in_client, user):
    device = platform_device(user)
    device_key = pki.ec_key()
    csr = pki.make_csr("whatever the device chose", key=device_key)

    response = renew(
        signed_in_client,
        device,
        certificate_source="csr",
        csr=upload("dev_01.csr", csr.public_bytes(serialization.Encoding.PEM)),
    )

    renewed = Device.objects.get(pk=device.pk)
    assert response.redirect_chain[-1][0] == renewed.get_absolute_url()
    assert renewed.key_origin == Device.KeyOrigin.CSR
    assert not renewed.private_key_pem
    certificate = cx509.load_pem_x509_certificate(renewed.certificate_pem.encode())
    assert certificate.public_key().public_numbers() == device_key.public_key().public_numbers()
    assert PreviousCertificate.objects.get().fingerprint == device.certificate_fingerprint


def test_custom_ca_device_takes_an_uploaded_replacement(signed_in_client, client, user):
    device, old_leaf = custom_ca_device(user)
    ca = pki.make_ca("Device Root CA")
    new_leaf = device_leaf(device.product, device.name, ca, key=pki.rsa_key(2048, slot=3))

    response = renew(signed_in_client, device, device_certificate=upload("new.crt", new_leaf.pem))

    assert response.redirect_chain[-1][0] == device.get_absolute_url()
    renewed = Device.objects.get(pk=device.pk)
    assert renewed.certificate_pem == new_leaf.pem.decode()
    assert PreviousCertificate.objects.get().ca_certificate == device.product.ca_certificate
    assert connect(client, device, old_leaf.pem)["result"] == "allow"
    assert connect(client, device, new_leaf.pem)["result"] == "allow"
    assert connect(client, device, old_leaf.pem)["code"] == decisions.CERTIFICATE_REVOKED
    assert not PlatformCRL.objects.exists()


def test_a_replacement_failing_add_device_checks_changes_nothing(signed_in_client, user):
    device, _ = custom_ca_device(user)
    ca = pki.make_ca("Device Root CA")
    wrong_name = pki.make_leaf("someone_else", ca, extended_key_usage=pki.CLIENT_AUTH)

    response = renew(signed_in_client, device, device_certificate=upload("new.crt", wrong_name.pem))

    assert_field_error(
        response,
        "device_certificate",
        product_services.WRONG_COMMON_NAME.format(expected=device.client_id, actual="someone_else"),
    )
    assert Device.objects.get(pk=device.pk).certificate_fingerprint == device.certificate_fingerprint
    assert not PreviousCertificate.objects.exists()


def test_the_current_certificate_is_no_renewal(signed_in_client, user):
    device, leaf = custom_ca_device(user)

    response = renew(signed_in_client, device, device_certificate=upload("same.crt", leaf.pem))

    assert_field_error(response, "device_certificate", services.CERTIFICATE_UNCHANGED)
    assert not PreviousCertificate.objects.exists()


def test_a_replacement_the_cas_crl_lists_is_refused(signed_in_client, user):
    device, _ = custom_ca_device(user)
    ca = pki.make_ca("Device Root CA")
    listed = device_leaf(device.product, device.name, ca, key=pki.rsa_key(2048, slot=3))
    now = timezone.now().replace(microsecond=0)
    services.upload_crl(
        ca_certificate=device.product.ca_certificate,
        data=crl.build_crl(
            issuer=ca.certificate,
            issuer_key=ca.key,
            number=1,
            entries=[crl.RevokedEntry(serial=listed.certificate.serial_number, revoked_at=now)],
            this_update=now,
            next_update=now + timedelta(days=1),
        ),
    )

    response = renew(signed_in_client, device, device_certificate=upload("listed.crt", listed.pem))

    assert_field_error(
        response,
        "device_certificate",
        services.CERTIFICATE_IN_CRL.format(serial=pki_serial(listed), ca=device.product.ca_certificate.name),
    )
    assert not PreviousCertificate.objects.exists()


def pki_serial(issued: pki.Issued) -> str:
    return x509.serial_hex(issued.certificate.serial_number)


def test_a_revoked_device_renews_without_an_overlap(signed_in_client, client, user):
    device = platform_device(user)
    old_pem = device.certificate_pem
    signed_in_client.post(lifecycle_url(device, "revoke"), {"reason": "keyCompromise"})

    renew_generated(signed_in_client, device)

    renewed = Device.objects.get(pk=device.pk)
    assert not PreviousCertificate.objects.exists()
    assert connect(client, device, old_pem)["code"] == decisions.CERTIFICATE_REVOKED
    assert connect(client, device, renewed.certificate_pem)["result"] == "allow"
    page = text(signed_in_client.get(renewed.get_absolute_url()))
    assert '<span class="badge text-bg-success">Valid</span>' in page


def test_renewing_again_within_the_overlap_retires_the_oldest_at_once(signed_in_client, client, user):
    device = platform_device(user)
    first_pem = device.certificate_pem
    renew_generated(signed_in_client, device)
    second_pem = Device.objects.get(pk=device.pk).certificate_pem

    renew_generated(signed_in_client, device)

    assert connect(client, device, first_pem)["code"] == decisions.CERTIFICATE_REVOKED
    assert connect(client, device, second_pem)["result"] == "allow"
    assert PreviousCertificate.objects.count() == 1


def test_a_key_device_has_nothing_to_renew(signed_in_client, user):
    device = key_device(user)

    response = signed_in_client.get(lifecycle_url(device, "renew"), follow=True)

    assert_message(response, services.NO_CERTIFICATE)


def test_another_accounts_device_is_404(client, user, other_user):
    device = platform_device(other_user)
    client.force_login(user)

    assert client.get(lifecycle_url(device, "renew")).status_code == 404
    assert client.post(lifecycle_url(device, "renew"), {"certificate_source": "generate"}).status_code == 404
    assert Device.objects.get(pk=device.pk).certificate_fingerprint == device.certificate_fingerprint
    assert not PreviousCertificate.objects.exists()
