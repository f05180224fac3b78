"""An account holds at most 10 CA certificates (LimitExceeded.CACertLimit)."""

from __future__ import annotations

import pytest
from django.conf import settings

from certificates import services
from certificates.models import CACertificate
from tests import pki
from tests.certificate_console import (
    LIST_URL,
    assert_code_unused,
    assert_field_error,
    current_code,
    post_add_proven,
    register,
)

pytestmark = pytest.mark.django_db


def fill_to_limit(owner) -> None:
    for index in range(settings.IOTHUB_CA_LIMIT):
        register(owner, pki.make_ca(f"CA {index}", key=pki.ec_key()), f"ca{index}")


def test_limit_is_ten():
    assert settings.IOTHUB_CA_LIMIT == 10


def test_refuses_eleventh_ca(signed_in_client, user):
    fill_to_limit(user)
    assert CACertificate.objects.filter(owner=user).count() == 10
    code = current_code(user)

    response = post_add_proven(signed_in_client, user, pki.make_ca("CA 10", key=pki.ec_key()), name="ca10")

    assert_field_error(response, None, services.CA_LIMIT_REACHED.format(limit=10))
    assert CACertificate.objects.filter(owner=user).count() == 10
    assert not CACertificate.objects.filter(name="ca10").exists()
    assert_code_unused(user, code)


def test_service_gives_cacertlimit_code(user):
    fill_to_limit(user)

    with pytest.raises(services.ServiceError) as refused:
        register(user, pki.make_ca("CA 10", key=pki.ec_key()), "ca10")

    assert refused.value.code == "LimitExceeded.CACertLimit"
    assert CACertificate.objects.count() == 10


def test_limit_counts_per_account(signed_in_client, user, other_user):
    fill_to_limit(other_user)

    response = post_add_proven(signed_in_client, user, pki.make_ca(key=pki.ec_key()))

    assert response.status_code == 302
    assert CACertificate.objects.filter(owner=user).count() == 1


def test_deleting_one_makes_room(signed_in_client, user):
    fill_to_limit(user)
    signed_in_client.post(f"/certificates/{CACertificate.objects.get(name='ca0').pk}/delete/")

    response = post_add_proven(signed_in_client, user, pki.make_ca("CA 10", key=pki.ec_key()), name="ca10")

    assert response.status_code == 302
    assert CACertificate.objects.filter(owner=user).count() == 10
    assert CACertificate.objects.filter(name="ca10").exists()


def test_list_shows_how_many_are_used(signed_in_client, user):
    fill_to_limit(user)

    response = signed_in_client.get(LIST_URL)

    assert response.status_code == 200
    assert "10 of 10 CA certificates used" in response.content.decode()
