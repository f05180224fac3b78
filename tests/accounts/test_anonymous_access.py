"""Every Certificate Management page and action sends a signed-out visitor to sign in."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from certificates.models import AuthenticationCode, CACertificate
from tests import pki
from tests.certificate_console import register

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(user):
    return register(user, pki.make_ca(key=pki.ec_key()), "private_ca")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/certificates/"),
        ("get", "/certificates/add/"),
        ("post", "/certificates/add/"),
        ("get", "/certificates/{pk}/"),
        ("get", "/certificates/{pk}/download/"),
        ("get", "/certificates/{pk}/update/"),
        ("post", "/certificates/{pk}/update/"),
        ("post", "/certificates/{pk}/delete/"),
        ("post", "/certificates/authentication-code/regenerate/"),
        ("get", "/"),
    ],
)
def test_redirects_to_login(client, stored, method, path):
    path = path.format(pk=stored.pk)
    codes_before = list(AuthenticationCode.objects.values_list("code", "used_at", "retired_at"))

    response = getattr(client, method)(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={quote(path)}"
    assert CACertificate.objects.filter(pk=stored.pk).exists()
    assert CACertificate.objects.count() == 1
    codes_after = list(AuthenticationCode.objects.values_list("code", "used_at", "retired_at"))
    assert codes_after == codes_before
