"""Upload CRL on a customer CA's page: verified with that CA, never older than the one held; it cuts devices off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from broker import decisions
from certificates import crl
from certificates.x509 import PRIVATE_KEY_REFUSED
from lifecycle.forms import WRONG_CRL_EXTENSION
from lifecycle.models import RevokedCertificate, UploadedCRL

from .. import pki
from ..broker.link_service import custom_ca_device
from ..certificate_console import assert_field_error
from ..lifecycle_console import connect, kicked_client_ids
from ..product_console import (
    CUSTOM_CA_NAME,
    assert_message,
    custom_ca,
    device_leaf,
    make_device,
    text,
    upload,
)

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)


def customer_crl(
    ca: pki.Issued, serials=(), *, number=1, key=None, this_update=None, next_update=None
) -> bytes:
    return crl.build_crl(
        issuer=ca.certificate,
        issuer_key=key or ca.key,
        number=number,
        entries=[
            crl.RevokedEntry(serial=serial, revoked_at=NOW - timedelta(hours=1), reason="keyCompromise")
            for serial in serials
        ],
        this_update=this_update or NOW - timedelta(minutes=30),
        next_update=next_update or NOW + timedelta(days=30),
    )


def upload_url(ca_certificate) -> str:
    return reverse("lifecycle:ca_crl_upload", args=[ca_certificate.pk])


def post_crl(client, ca_certificate, data: bytes, filename: str = "ca.crl"):
    return client.post(upload_url(ca_certificate), {"crl_file": upload(filename, data)}, follow=True)


@pytest.fixture
def fleet(user):
    """Two devices of one customer CA; the first will be listed in its CRL."""
    ca = custom_ca()
    listed, listed_leaf = custom_ca_device(user, ca)
    kept_leaf = device_leaf(listed.product, "sensor_02", ca)
    kept = make_device(listed.product, "sensor_02", certificate_data=kept_leaf.pem)
    return ca, (listed, listed_leaf), (kept, kept_leaf)


def test_uploaded_crl_cuts_off_the_devices_it_lists(signed_in_client, client, fleet):
    ca, (listed, listed_leaf), (kept, kept_leaf) = fleet
    ca_certificate = listed.product.ca_certificate

    response = post_crl(
        signed_in_client, ca_certificate, customer_crl(ca, [listed_leaf.certificate.serial_number])
    )

    assert response.redirect_chain[-1][0] == ca_certificate.get_absolute_url()
    assert_message(response, "The CRL was stored (1 revoked serial(s)); 1 device(s) were cut off.", "success")
    page = text(response)
    assert "Download CRL" in page and "Upload CRL" in page
    held = UploadedCRL.objects.get(ca_certificate=ca_certificate)
    assert (held.number, held.revoked_count) == (1, 1)
    revocation = RevokedCertificate.objects.get()
    assert (revocation.device, revocation.source, revocation.reason) == (listed, "crl", "keyCompromise")
    assert kicked_client_ids() == [listed.client_id]
    assert connect(client, listed, listed_leaf.pem)["code"] == decisions.CERTIFICATE_REVOKED
    assert connect(client, kept, kept_leaf.pem)["result"] == "allow"
    assert AuditEntry.objects.filter(
        action=AuditEntry.Action.CRL_UPLOADED, object_label=ca_certificate.name
    ).exists()
    assert AuditEntry.objects.get(action=AuditEntry.Action.CERTIFICATE_REVOKED).object_label == listed.name


def test_the_held_crl_downloads_as_uploaded(signed_in_client, fleet):
    ca, (listed, listed_leaf), _ = fleet
    data = customer_crl(ca, [listed_leaf.certificate.serial_number])
    post_crl(signed_in_client, listed.product.ca_certificate, data)

    from_ca = signed_in_client.get(
        reverse("lifecycle:ca_crl_download", args=[listed.product.ca_certificate.pk])
    )
    from_product = signed_in_client.get(reverse("lifecycle:product_crl", args=[listed.product.product_id]))

    assert from_ca.status_code == from_product.status_code == 200
    assert from_ca.content == from_product.content == data
    assert from_ca["Content-Type"] == "application/pkix-crl"


def test_forged_crl_is_refused_and_changes_nothing(signed_in_client, client, fleet):
    ca, (listed, listed_leaf), _ = fleet
    # The customer CA's name, another key: the issuer matches, the signature cannot.
    impostor = pki.make_ca(CUSTOM_CA_NAME, key=pki.rsa_key(2048, slot=7))
    forged = customer_crl(ca, [listed_leaf.certificate.serial_number], key=impostor.key)

    response = post_crl(signed_in_client, listed.product.ca_certificate, forged)

    assert response.status_code == 200
    assert_field_error(response, "crl_file", crl.CRL_BAD_SIGNATURE)
    assert not UploadedCRL.objects.exists()
    assert not RevokedCertificate.objects.exists()
    assert kicked_client_ids() == []
    assert connect(client, listed, listed_leaf.pem)["result"] == "allow"


def test_crl_older_than_the_one_held_is_refused_and_changes_nothing(signed_in_client, client, fleet):
    ca, (listed, listed_leaf), (kept, kept_leaf) = fleet
    ca_certificate = listed.product.ca_certificate
    post_crl(
        signed_in_client, ca_certificate, customer_crl(ca, [listed_leaf.certificate.serial_number], number=5)
    )
    stale = customer_crl(ca, [kept_leaf.certificate.serial_number], number=4)

    response = post_crl(signed_in_client, ca_certificate, stale)

    assert_field_error(response, "crl_file", crl.CRL_OLDER.format(new=4, held=5))
    assert UploadedCRL.objects.get().number == 5
    assert list(RevokedCertificate.objects.values_list("device__name", flat=True)) == [listed.name]
    assert connect(client, kept, kept_leaf.pem)["result"] == "allow"


@pytest.mark.parametrize("number", [2**63, 2**100, 2**159 - 1])
def test_crl_number_beyond_64_bits_is_refused_and_changes_nothing(signed_in_client, client, fleet, number):
    # RFC 5280 allows CRL numbers of 20 octets; the console keeps them as 64-bit integers.
    ca, (listed, listed_leaf), (kept, kept_leaf) = fleet
    ca_certificate = listed.product.ca_certificate
    post_crl(
        signed_in_client, ca_certificate, customer_crl(ca, [listed_leaf.certificate.serial_number], number=5)
    )
    huge = customer_crl(ca, [kept_leaf.certificate.serial_number], number=number)

    response = post_crl(signed_in_client, ca_certificate, huge)

    assert response.status_code == 200
    assert_field_error(
        response, "crl_file", crl.CRL_NUMBER_TOO_LARGE.format(number=number, limit=crl.MAX_CRL_NUMBER)
    )
    assert UploadedCRL.objects.get().number == 5
    assert list(RevokedCertificate.objects.values_list("device__name", flat=True)) == [listed.name]
    assert connect(client, kept, kept_leaf.pem)["result"] == "allow"


def test_crl_number_at_the_64_bit_limit_is_stored(signed_in_client, fleet):
    ca, (listed, _), _ = fleet
    ca_certificate = listed.product.ca_certificate

    response = post_crl(signed_in_client, ca_certificate, customer_crl(ca, number=crl.MAX_CRL_NUMBER))

    assert_message(response, "The CRL was stored (0 revoked serial(s)); 0 device(s) were cut off.", "success")
    assert UploadedCRL.objects.get().number == 2**63 - 1


def test_lapsed_crl_is_refused(signed_in_client, fleet):
    ca, (listed, _), _ = fleet
    lapsed = NOW - timedelta(days=1)
    data = customer_crl(ca, number=2, this_update=NOW - timedelta(days=31), next_update=lapsed)

    response = post_crl(signed_in_client, listed.product.ca_certificate, data)

    assert_field_error(
        response, "crl_file", crl.CRL_EXPIRED.format(date=lapsed.strftime("%Y-%m-%d %H:%M UTC"))
    )
    assert not UploadedCRL.objects.exists()


def test_crl_of_another_ca_is_refused(signed_in_client, fleet):
    _, (listed, listed_leaf), _ = fleet
    other = pki.make_ca("Other CA", key=pki.rsa_key(2048, slot=7))

    response = post_crl(signed_in_client, listed.product.ca_certificate, customer_crl(other, [1]))

    assert_field_error(
        response,
        "crl_file",
        crl.CRL_WRONG_ISSUER.format(
            issuer=other.certificate.subject.rfc4514_string(),
            subject=listed_leaf.certificate.issuer.rfc4514_string(),
        ),
    )
    assert not UploadedCRL.objects.exists()


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("ca.txt", b"x", WRONG_CRL_EXTENSION.format(filename="ca.txt")),
        ("ca.crl", b"not a crl", crl.NOT_A_CRL),
        ("ca.pem", pki.make_ca("Device Root CA").key_pem, PRIVATE_KEY_REFUSED),
    ],
    ids=["extension", "not-a-crl", "private-key"],
)
def test_unusable_files_are_refused_beside_the_field(signed_in_client, fleet, filename, data, message):
    _, (listed, _), _ = fleet

    response = post_crl(signed_in_client, listed.product.ca_certificate, data, filename)

    assert_field_error(response, "crl_file", message)
    assert not UploadedCRL.objects.exists()


def test_another_accounts_ca_is_404(client, other_user, user):
    ca = custom_ca()
    device, _ = custom_ca_device(other_user, ca)
    client.force_login(user)
    ca_certificate = device.product.ca_certificate

    assert client.get(upload_url(ca_certificate)).status_code == 404
    response = client.post(upload_url(ca_certificate), {"crl_file": upload("ca.crl", customer_crl(ca, [1]))})
    assert response.status_code == 404
    assert client.get(reverse("lifecycle:ca_crl_download", args=[ca_certificate.pk])).status_code == 404
    assert not UploadedCRL.objects.exists()
