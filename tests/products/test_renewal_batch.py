"""Renew Expiring Certificates: a background batch renews a product's certificates expiring within N days."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from batches import services as batch_services
from batches.models import BatchRow, DeviceBatch
from lifecycle import renewal_batches
from lifecycle.models import PreviousCertificate
from products.models import Device

from ..broker.link_service import custom_ca_device
from ..product_console import assert_message, make_device, make_product

pytestmark = pytest.mark.django_db


def renew_expiring(client, product, days="30"):
    return client.post(
        reverse("lifecycle:product_renewal_batch", args=[product.product_id]), {"days": days}, follow=True
    )


@pytest.fixture
def fleet(user):
    """A Platform-CA product: two devices expiring within a week, one expiring in years."""
    product = make_product(user, "lamps")
    devices = [make_device(product, name) for name in ("lamp_01", "lamp_02", "lamp_03")]
    Device.objects.filter(name__in=["lamp_01", "lamp_02"]).update(
        certificate_not_after=timezone.now() + timedelta(days=5)
    )
    return product, devices


def test_expiring_certificates_are_renewed_in_a_batch_with_a_results_zip(signed_in_client, user, fleet):
    product, devices = fleet
    before = {device.name: device.certificate_fingerprint for device in devices}

    response = renew_expiring(signed_in_client, product, "7")

    batch = DeviceBatch.objects.get()
    assert response.redirect_chain[-1][0] == batch.get_absolute_url()
    assert_message(response, "Renewing 2 certificate(s) in the background.", "success")
    assert (batch.kind, batch.total) == (DeviceBatch.Kind.RENEWAL, 2)
    batch_services.run_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.failed) == (DeviceBatch.Status.SUCCEEDED, 2, 0)
    after = {device.name: device for device in Device.objects.filter(product=product)}
    assert after["lamp_01"].certificate_fingerprint != before["lamp_01"]
    assert after["lamp_02"].certificate_fingerprint != before["lamp_02"]
    assert after["lamp_03"].certificate_fingerprint == before["lamp_03"]
    assert sorted(PreviousCertificate.objects.values_list("fingerprint", flat=True)) == sorted(
        [before["lamp_01"], before["lamp_02"]]
    )
    assert AuditEntry.objects.filter(action=AuditEntry.Action.CERTIFICATE_RENEWED).count() == 2

    results = signed_in_client.get(reverse("batches:batch_results", args=[batch.pk]))

    archive = zipfile.ZipFile(io.BytesIO(results.getvalue()))
    lines = list(csv.reader(io.StringIO(archive.read("results.csv").decode())))
    assert [line[1:4] for line in lines[1:]] == [["lamp_01", "", "renewed"], ["lamp_02", "", "renewed"]]
    assert archive.read("lamp_01/lamp_01_cert.crt").decode() == after["lamp_01"].certificate_pem
    assert archive.read("lamp_02/lamp_02_private.key").decode() == after["lamp_02"].private_key_pem
    assert not Device.objects.get(name="lamp_02").private_key_retrievable


def test_a_resumed_batch_does_not_renew_a_device_twice(user, fleet):
    product, _ = fleet
    batch = renewal_batches.start_renewal_batch(owner=user, product=product, days=7)
    batch_services.run_batch(batch.pk)
    renewed = {
        device.name: device.certificate_fingerprint for device in Device.objects.filter(product=product)
    }
    # As if the worker died after renewing the devices but before recording it.
    batch.rows.update(result=BatchRow.Result.PENDING, device=None)
    DeviceBatch.objects.filter(pk=batch.pk).update(status=DeviceBatch.Status.RUNNING, processed=0)

    batch_services.run_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.failed) == (DeviceBatch.Status.SUCCEEDED, 2, 0)
    assert {d.name: d.certificate_fingerprint for d in Device.objects.filter(product=product)} == renewed
    assert PreviousCertificate.objects.count() == 2
    assert set(batch.rows.values_list("result", flat=True)) == {BatchRow.Result.RENEWED}


def test_devices_already_renewing_are_left_out(signed_in_client, user, fleet):
    product, _ = fleet
    signed_in_client.post(
        reverse("lifecycle:device_renew", args=[product.product_id, "lamp_01"]),
        {"certificate_source": "generate"},
    )
    Device.objects.filter(name="lamp_01").update(certificate_not_after=timezone.now() + timedelta(days=5))

    batch = renewal_batches.start_renewal_batch(owner=user, product=product, days=7)

    assert list(batch.rows.values_list("device_name", flat=True)) == ["lamp_02"]


def test_nothing_expiring_starts_no_batch(signed_in_client, user, fleet):
    product, _ = fleet
    Device.objects.update(certificate_not_after=timezone.now() + timedelta(days=400))

    response = renew_expiring(signed_in_client, product, "30")

    assert_message(response, renewal_batches.NOTHING_EXPIRES.format(days=30))
    assert not DeviceBatch.objects.exists()


@pytest.mark.parametrize("days", ["0", "-3", "3651", "soon", ""])
def test_days_out_of_range_are_refused(signed_in_client, fleet, days):
    product, _ = fleet

    response = renew_expiring(signed_in_client, product, days)

    assert_message(response, renewal_batches.DAYS_OUT_OF_RANGE)
    assert not DeviceBatch.objects.exists()


def test_a_custom_ca_product_renews_one_device_at_a_time(signed_in_client, user):
    device, _ = custom_ca_device(user)

    response = renew_expiring(signed_in_client, device.product, "3650")

    assert_message(response, batch_services.RENEWAL_NEEDS_PLATFORM_CA)
    assert not DeviceBatch.objects.exists()


def test_another_accounts_product_is_404(client, user, other_user):
    product = make_product(other_user, "their_lamps")
    make_device(product, "lamp_01")
    client.force_login(user)

    response = client.post(
        reverse("lifecycle:product_renewal_batch", args=[product.product_id]), {"days": "3650"}
    )

    assert response.status_code == 404
    assert not DeviceBatch.objects.exists()
