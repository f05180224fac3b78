"""Another account's CA is a 404 on every page and action, and nothing about it changes."""

from __future__ import annotations

import pytest

from certificates.models import AuthenticationCode, CACertificate
from tests import pki
from tests.certificate_console import current_code, register, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_user):
    ca = pki.make_ca("Their Root CA", key=pki.ec_key())
    stored = register(other_user, ca, "their_ca")
    stored.issued = ca  # the test keeps their key to attempt an update
    return stored


def snapshot(ca_certificate: CACertificate) -> dict:
    return CACertificate.objects.filter(pk=ca_certificate.pk).values().get()


def test_detail_is_404(signed_in_client, theirs):
    before = snapshot(theirs)

    response = signed_in_client.get(f"/certificates/{theirs.pk}/")

    assert response.status_code == 404
    assert "their_ca" not in response.content.decode()
    assert snapshot(theirs) == before


def test_download_is_404(signed_in_client, theirs):
    response = signed_in_client.get(f"/certificates/{theirs.pk}/download/")

    assert response.status_code == 404
    assert theirs.certificate_pem not in response.content.decode()


def test_update_page_is_404(signed_in_client, theirs):
    assert signed_in_client.get(f"/certificates/{theirs.pk}/update/").status_code == 404


def test_update_post_is_404_and_changes_nothing(signed_in_client, user, other_user, theirs):
    before = snapshot(theirs)
    their_code = current_code(other_user)
    renewed = pki.make_ca("Their Root CA", key=theirs.issued.key)
    my_code = current_code(user)

    for code in (my_code, their_code):
        response = signed_in_client.post(
            f"/certificates/{theirs.pk}/update/",
            {
                "ca_certificate": upload("ca.pem", renewed.pem),
                "verification_certificate": upload("v.pem", pki.make_verification(code, renewed).pem),
            },
        )
        assert response.status_code == 404

    assert snapshot(theirs) == before
    used = AuthenticationCode.objects.exclude(used_at=None)
    assert not used.filter(code__in=[my_code, their_code]).exists()


def test_delete_is_404_and_deletes_nothing(signed_in_client, theirs):
    before = snapshot(theirs)

    response = signed_in_client.post(f"/certificates/{theirs.pk}/delete/")

    assert response.status_code == 404
    assert snapshot(theirs) == before


def test_list_shows_only_own_cas(signed_in_client, user, theirs):
    register(user, pki.make_ca("My Root CA", key=pki.ec_key()), "my_ca")

    response = signed_in_client.get("/certificates/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "my_ca" in content
    assert "their_ca" not in content
    assert [ca.name for ca in response.context["ca_certificates"]] == ["my_ca"]
