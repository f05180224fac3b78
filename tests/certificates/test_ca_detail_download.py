"""A CA's detail page shows what was registered; Download gives the PEM as <name>.crt."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from certificates.models import CACertificate
from products.models import Product
from tests import pki
from tests.certificate_console import register

pytestmark = pytest.mark.django_db


@pytest.fixture
def ca():
    return pki.make_ca("Detail Root CA", key=pki.ec_key())


def test_detail_shows_subject_issuer_serial_fingerprint_and_pem(signed_in_client, user, ca):
    stored = register(user, ca, "detail_ca")

    response = signed_in_client.get(f"/certificates/{stored.pk}/")

    assert response.status_code == 200
    content = response.content.decode()
    assert stored.subject == "CN=Detail Root CA,O=IoT Hub Console Tests,C=CN"
    for value in (
        "detail_ca",
        escape(stored.subject),
        escape(stored.issuer),
        stored.serial_hex,
        stored.fingerprint_sha256,
        "EC P-256 256",
        "SHA256",
        stored.not_after.strftime("%Y-%m-%d %H:%M:%S UTC"),
    ):
        assert value in content
    assert ca.pem.decode().strip() in content
    assert "Download CA Certificate" in content
    assert ">Delete</button>" in content
    assert "No product uses this CA yet." in content
    assert CACertificate.objects.get(pk=stored.pk).certificate_pem.encode() == ca.pem


def test_detail_lists_bound_products(signed_in_client, user, ca):
    stored = register(user, ca, "detail_ca")
    product = Product.objects.create(owner=user, name="p1", ca_certificate=stored)

    response = signed_in_client.get(f"/certificates/{stored.pk}/")

    assert response.status_code == 200
    content = response.content.decode()
    assert f'href="{product.get_absolute_url()}">p1</a>' in content
    assert product.product_id in content
    assert list(response.context["bound_products"]) == [product]


def test_download_returns_pem_as_named_crt_attachment(signed_in_client, user, ca):
    stored = register(user, ca, "detail_ca")

    response = signed_in_client.get(f"/certificates/{stored.pk}/download/")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="detail_ca.crt"'
    assert response["Content-Type"] == "application/x-pem-file"
    assert response.content == ca.pem
    assert CACertificate.objects.get(pk=stored.pk).certificate_pem.encode() == ca.pem


def test_list_links_each_name_to_its_detail_page(signed_in_client, user, ca):
    stored = register(user, ca, "detail_ca")

    response = signed_in_client.get("/certificates/")

    assert response.status_code == 200
    assert f'<a href="/certificates/{stored.pk}/">detail_ca</a>' in response.content.decode()


def test_unknown_ca_is_404(signed_in_client, user):
    assert signed_in_client.get("/certificates/999999/").status_code == 404
    assert signed_in_client.get("/certificates/999999/download/").status_code == 404
    assert CACertificate.objects.count() == 0
