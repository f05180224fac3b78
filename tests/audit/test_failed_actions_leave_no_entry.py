"""A refused or rolled-back change leaves no entry: the entry is written in the change's transaction."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from audit.models import AuditEntry
from certificates.models import CACertificate
from products.models import Product
from tests import pki
from tests.certificate_console import post_add
from tests.certificate_console import upload as certificate_upload
from tests.product_console import (
    add_url,
    custom_ca,
    device_url,
    make_device,
    make_product,
    register_ca,
)

pytestmark = pytest.mark.django_db


class Abandoned(Exception):
    pass


def test_a_ca_with_a_wrong_proof_is_refused_and_not_recorded(signed_in_client, user):
    ca = pki.make_ca("Unproven Root CA", key=pki.ec_key())
    wrong = pki.make_verification("0" * 64, ca)
    response = post_add(
        signed_in_client,
        name="unproven",
        ca_file=certificate_upload("ca.pem", ca.pem),
        verification_file=certificate_upload("v.crt", wrong.pem),
    )
    assert response.status_code == 200
    assert not CACertificate.objects.exists()
    assert not AuditEntry.objects.exists()


def test_refused_deletions_are_not_recorded(signed_in_client, user):
    ca = register_ca(user, custom_ca())
    product = make_product(user, "bound", ca_certificate=ca)
    keyed = make_product(user, "keyed", auth_method=Product.AuthMethod.KEY)
    make_device(keyed, "d1")
    before = AuditEntry.objects.count()

    signed_in_client.post(reverse("certificates:ca_delete", args=[ca.pk]))
    signed_in_client.post(reverse("products:product_delete", args=[keyed.product_id]))
    assert CACertificate.objects.filter(pk=ca.pk).exists() and Product.objects.count() == 2
    assert product.pk and AuditEntry.objects.count() == before
    assert not AuditEntry.objects.filter(action__in=["ca_deleted", "product_deleted"]).exists()


def test_a_taken_device_name_is_refused_and_not_recorded(signed_in_client, user):
    product = make_product(user, "keyed", auth_method=Product.AuthMethod.KEY)
    make_device(product, "twin")
    response = signed_in_client.post(add_url(product), {"name": "twin", "psk": ""})
    assert response.status_code == 200
    assert AuditEntry.objects.filter(action="device_added").count() == 1  # the first one only


def test_a_second_key_download_is_refused_and_not_recorded(signed_in_client, user):
    device = make_device(make_product(user, "platform"), "cam")
    assert signed_in_client.get(device_url(device, "device_private_key")).status_code == 200
    response = signed_in_client.get(device_url(device, "device_private_key"))
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="private_key_downloaded").count() == 1


def test_a_change_rolled_back_after_the_service_leaves_no_entry(user):
    with pytest.raises(Abandoned), transaction.atomic():
        make_product(user, "rolled_back")
        assert AuditEntry.objects.filter(action="product_created").count() == 1
        raise Abandoned
    assert not Product.objects.exists()
    assert not AuditEntry.objects.exists()
