"""Sign in with Username and Password; sign up (on unless IOTHUB_ALLOW_SIGNUP=False)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
SIGNUP_URL = "/accounts/signup/"
PASSWORD = "a long and unusual passphrase 42"


def test_login_page_has_username_and_password_fields(client):
    response = client.get(LOGIN_URL)

    assert response.status_code == 200
    content = response.content.decode()
    labels = dict(re.findall(r'<label\s+for="(id_\w+)"[^>]*>\s*([^<*]+?)\s*<', content))
    assert labels == {"id_username": "Username", "id_password": "Password"}
    assert '<input type="text" name="username"' in content
    assert '<input type="password" name="password"' in content


def test_login_signs_in_and_goes_to_the_console(client, user):
    response = client.post(LOGIN_URL, {"username": "alice", "password": "correct horse battery"}, follow=True)

    assert response.redirect_chain[0] == ("/", 302)
    assert response.redirect_chain[-1] == ("/certificates/", 302)
    assert response.status_code == 200
    assert int(client.session[SESSION_KEY]) == user.pk


def test_login_with_wrong_password_is_refused(client, user):
    response = client.post(LOGIN_URL, {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert SESSION_KEY not in client.session
    assert response.context["form"].non_field_errors()


def test_login_returns_to_next(client, user):
    response = client.post(
        LOGIN_URL + "?next=/certificates/add/",
        {"username": "alice", "password": "correct horse battery", "next": "/certificates/add/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/certificates/add/"


def test_login_page_links_to_sign_up(client):
    assert f'href="{SIGNUP_URL}"' in client.get(LOGIN_URL).content.decode()


def test_sign_up_creates_account_and_signs_in(client):
    response = client.get(SIGNUP_URL)
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()

    response = client.post(
        SIGNUP_URL,
        {"username": "bob", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )

    assert response.redirect_chain[0] == ("/", 302)
    assert response.status_code == 200
    user = get_user_model().objects.get(username="bob")
    assert user.check_password(PASSWORD)
    assert int(client.session[SESSION_KEY]) == user.pk
    assert "Welcome, bob. Your account is ready." in response.content.decode()


def test_sign_up_refuses_taken_username(client, user):
    response = client.post(SIGNUP_URL, {"username": "alice", "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 200
    assert response.context["form"].errors["username"] == ["A user with that username already exists."]
    assert get_user_model().objects.count() == 1
    assert SESSION_KEY not in client.session


def test_sign_up_refuses_mismatched_passwords(client):
    response = client.post(
        SIGNUP_URL, {"username": "bob", "password1": PASSWORD, "password2": PASSWORD + "x"}
    )

    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert not get_user_model().objects.filter(username="bob").exists()


def test_sign_up_is_404_when_turned_off(client, settings):
    settings.IOTHUB_ALLOW_SIGNUP = False

    assert client.get(SIGNUP_URL).status_code == 404
    response = client.post(SIGNUP_URL, {"username": "bob", "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 404
    assert not get_user_model().objects.filter(username="bob").exists()
    assert SESSION_KEY not in client.session


def test_login_page_hides_sign_up_link_when_turned_off(client, settings):
    settings.IOTHUB_ALLOW_SIGNUP = False

    response = client.get(LOGIN_URL)

    assert response.status_code == 200
    assert SIGNUP_URL not in response.content.decode()


def test_signed_in_user_visiting_sign_up_goes_to_console(client, user):
    client.force_login(user)

    response = client.get(SIGNUP_URL)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert get_user_model().objects.count() == 1
