"""Delete a CA (POST only); refused, with nothing deleted, while a product uses it."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from certificates import services
from certificates.models import CACertificate
from products.models import Product
from tests import pki
from tests.certificate_console import LIST_URL, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(user):
    return register(user, pki.make_ca(key=pki.ec_key()), "doomed_ca")


def test_delete_removes_ca_and_says_so(signed_in_client, user, stored):
    response = signed_in_client.post(f"/certificates/{stored.pk}/delete/", follow=True)

    assert response.redirect_chain == [(LIST_URL, 302)]
    assert response.status_code == 200
    assert not CACertificate.objects.filter(pk=stored.pk).exists()
    assert escape('CA certificate "doomed_ca" was deleted.') in response.content.decode()


def test_delete_refuses_get(signed_in_client, user, stored):
    response = signed_in_client.get(f"/certificates/{stored.pk}/delete/")

    assert response.status_code == 405
    assert CACertificate.objects.filter(pk=stored.pk).exists()


def test_delete_refused_while_a_product_is_bound(signed_in_client, user, stored):
    Product.objects.create(owner=user, name="p1", ca_certificate=stored)
    Product.objects.create(owner=user, name="p0", ca_certificate=stored)

    response = signed_in_client.post(f"/certificates/{stored.pk}/delete/", follow=True)

    assert response.redirect_chain == [(f"/certificates/{stored.pk}/", 302)]
    assert response.status_code == 200
    message = services.CA_STILL_BOUND.format(name="doomed_ca", products="p0, p1")
    content = response.content.decode()
    assert escape(message) in content
    assert 'class="alert alert-danger' in content
    assert CACertificate.objects.filter(pk=stored.pk).exists()
    assert Product.objects.filter(ca_certificate=stored).count() == 2


def test_delete_allowed_once_the_product_is_gone(signed_in_client, user, stored):
    product = Product.objects.create(owner=user, name="p1", ca_certificate=stored)
    signed_in_client.post(f"/certificates/{stored.pk}/delete/")
    assert CACertificate.objects.filter(pk=stored.pk).exists()
    product.delete()

    response = signed_in_client.post(f"/certificates/{stored.pk}/delete/")

    assert response.status_code == 302
    assert not CACertificate.objects.filter(pk=stored.pk).exists()


def test_service_gives_tencent_code_when_bound(user, stored):
    Product.objects.create(owner=user, name="p1", ca_certificate=stored)

    with pytest.raises(services.ServiceError) as refused:
        services.delete_ca_certificate(ca_certificate=stored)

    assert refused.value.code == "LimitExceeded.CAAlreadyBindProduct"
    assert CACertificate.objects.filter(pk=stored.pk).exists()
