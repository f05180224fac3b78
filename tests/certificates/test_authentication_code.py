"""The authentication code: 64 hex characters, shown until used, single use, 24 h, regenerable."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from certificates import services
from certificates.models import AuthenticationCode, CACertificate
from tests import pki
from tests.certificate_console import ADD_URL, assert_field_error, post_add, post_add_proven, upload

pytestmark = pytest.mark.django_db

REGENERATE_URL = "/certificates/authentication-code/regenerate/"
REGENERATED = "A new authentication code was generated; the previous one no longer works."


def shown_code(client) -> str:
    response = client.get(ADD_URL)
    assert response.status_code == 200
    match = re.search(
        r'<input type="text" name="authentication_code" id="id_authentication_code" '
        r'class="form-control font-monospace" value="([^"]*)" readonly>',
        response.content.decode(),
    )
    assert match, "the Add page has no read-only Authentication Code input"
    return match.group(1)


def test_add_page_shows_64_lowercase_hex_code(signed_in_client, user):
    code = shown_code(signed_in_client)

    assert re.fullmatch(r"[0-9a-f]{64}", code)
    stored = AuthenticationCode.objects.get(owner=user)
    assert stored.code == code
    assert stored.used_at is None and stored.retired_at is None


def test_code_stays_the_same_across_page_loads(signed_in_client, user):
    first = shown_code(signed_in_client)
    second = shown_code(signed_in_client)

    assert first == second
    assert AuthenticationCode.objects.filter(owner=user).count() == 1


def test_each_account_has_its_own_code(signed_in_client, client, user, other_user):
    mine = shown_code(signed_in_client)
    client.force_login(other_user)
    theirs = shown_code(client)

    assert mine != theirs
    assert AuthenticationCode.objects.get(owner=other_user).code == theirs


def test_successful_registration_consumes_the_code_and_shows_a_new_one(signed_in_client, user):
    code = shown_code(signed_in_client)

    response = post_add_proven(signed_in_client, user, pki.make_ca())

    assert response.status_code == 302
    assert CACertificate.objects.count() == 1
    assert AuthenticationCode.objects.get(code=code).used_at is not None
    next_code = shown_code(signed_in_client)
    assert next_code != code
    assert re.fullmatch(r"[0-9a-f]{64}", next_code)
    assert AuthenticationCode.objects.get(code=next_code).used_at is None


def test_code_expires_after_24_hours_and_a_fresh_one_is_shown(signed_in_client, user):
    code = shown_code(signed_in_client)
    AuthenticationCode.objects.filter(code=code).update(
        created=timezone.now() - timedelta(hours=24, seconds=1)
    )

    fresh = shown_code(signed_in_client)

    assert fresh != code
    assert AuthenticationCode.objects.filter(owner=user).count() == 2
    assert AuthenticationCode.objects.get(code=fresh).is_current()


def test_code_still_shown_just_before_24_hours(signed_in_client, user):
    code = shown_code(signed_in_client)
    AuthenticationCode.objects.filter(code=code).update(
        created=timezone.now() - timedelta(hours=23, minutes=59)
    )

    assert shown_code(signed_in_client) == code
    assert AuthenticationCode.objects.filter(owner=user).count() == 1


def test_regenerate_replaces_the_code(signed_in_client, user):
    old = shown_code(signed_in_client)

    response = signed_in_client.post(REGENERATE_URL, {"next": ADD_URL}, follow=True)

    assert response.redirect_chain == [(ADD_URL, 302)]
    new = response.context["authentication_code"].code
    assert new != old
    assert f'value="{new}" readonly' in response.content.decode()
    assert REGENERATED in response.content.decode()
    assert AuthenticationCode.objects.get(code=old).retired_at is not None
    assert AuthenticationCode.objects.get(code=new).is_current()


def test_verification_cert_for_replaced_code_is_refused(signed_in_client, user):
    old = shown_code(signed_in_client)
    signed_in_client.post(REGENERATE_URL)
    new = shown_code(signed_in_client)
    ca = pki.make_ca()

    response = post_add(
        signed_in_client,
        ca_file=upload("ca.pem", ca.pem),
        verification_file=upload("v.crt", pki.make_verification(old, ca).pem),
    )

    assert_field_error(response, "verification_certificate", services.CODE_REPLACED)
    assert CACertificate.objects.count() == 0
    assert AuthenticationCode.objects.get(code=old).used_at is None
    assert AuthenticationCode.objects.get(code=new).used_at is None
    assert shown_code(signed_in_client) == new


def test_regenerate_without_next_returns_to_add_page(signed_in_client, user):
    response = signed_in_client.post(REGENERATE_URL)

    assert response.status_code == 302
    assert response["Location"] == ADD_URL
    assert AuthenticationCode.objects.filter(owner=user, retired_at=None).count() == 1


def test_regenerate_returns_to_the_update_page(signed_in_client, user):
    update_url = "/certificates/7/update/"

    response = signed_in_client.post(REGENERATE_URL, {"next": update_url})

    assert response.status_code == 302
    assert response["Location"] == update_url


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\\/evil.example/",
        "javascript:alert(1)",
    ],
)
def test_regenerate_never_redirects_off_site(signed_in_client, user, next_url):
    response = signed_in_client.post(REGENERATE_URL, {"next": next_url})

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    # A browser reads "\\" as "/", so it must not survive into the Location header.
    assert not location.scheme and not location.netloc and "\\" not in response["Location"]
    assert response["Location"].startswith("/") and not response["Location"].startswith("//")
    assert AuthenticationCode.objects.filter(owner=user).count() == 1


def test_regenerate_refuses_get(signed_in_client, user):
    code = shown_code(signed_in_client)

    response = signed_in_client.get(REGENERATE_URL)

    assert response.status_code == 405
    assert AuthenticationCode.objects.get(owner=user).code == code


def test_regenerate_leaves_other_accounts_code_alone(signed_in_client, user, other_user):
    theirs = services.current_authentication_code(owner=other_user).code

    signed_in_client.post(REGENERATE_URL)

    assert services.current_authentication_code(owner=other_user).code == theirs
    assert AuthenticationCode.objects.get(code=theirs).retired_at is None
