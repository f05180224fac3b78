"""The console's API Keys page: create a key (SecretKey shown once), disable, delete, last used."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from api.models import APIKey
from iothub_console import encryption
from tests.api_support import build, links, refusal, table_row, visible_text
from tests.tencent_sdk import models, sdk_client

LIST_URL = "/api-keys/"
CREATE_URL = "/api-keys/create/"
NEW_KEY_ALERT = "Copy the SecretKey now: it is shown only this once."


def enable_url(key: APIKey) -> str:
    return f"/api-keys/{key.pk}/enable/"


def delete_url(key: APIKey) -> str:
    return f"/api-keys/{key.pk}/delete/"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def raw_secret_key_column(key: APIKey) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_key FROM api_apikey WHERE id = %s", [key.pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_every_console_page_links_to_api_keys(signed_in_client):
    for url in ("/products/", "/certificates/", LIST_URL):
        assert (LIST_URL, "API Keys") in links(signed_in_client.get(url).content.decode())


@pytest.mark.django_db
def test_the_page_needs_sign_in(client):
    response = client.get(LIST_URL)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={LIST_URL}"


@pytest.mark.django_db
def test_an_account_without_keys_sees_what_to_do(signed_in_client):
    text = visible_text(signed_in_client.get(LIST_URL).content.decode())

    assert "No API keys yet" in text
    assert "Create Key" in text


@pytest.mark.django_db
def test_create_key_shows_the_secret_id_and_secret_key_once(signed_in_client, user):
    response = signed_in_client.post(CREATE_URL)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = APIKey.objects.get(owner=user)
    assert re.fullmatch(r"AKID[A-Za-z0-9]{32}", key.secret_id)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", key.secret_key)
    text = visible_text(response.content.decode())
    assert NEW_KEY_ALERT in text
    assert f"SecretId {key.secret_id}" in text
    assert f"SecretKey {key.secret_key}" in text
    assert key.enabled is True and key.last_used is None

    listing = signed_in_client.get(LIST_URL).content.decode()

    assert table_row(listing, key.secret_id)[1] == "Enabled"
    assert key.secret_key not in listing
    assert NEW_KEY_ALERT not in listing


@pytest.mark.django_db
def test_create_key_needs_a_post(signed_in_client):
    assert signed_in_client.get(CREATE_URL).status_code == 405
    assert not APIKey.objects.exists()


@pytest.mark.django_db
def test_each_key_is_new(signed_in_client, user):
    signed_in_client.post(CREATE_URL)
    signed_in_client.post(CREATE_URL)

    first, second = APIKey.objects.filter(owner=user)
    assert first.secret_id != second.secret_id
    assert first.secret_key != second.secret_key


@pytest.mark.django_db
def test_the_secret_key_is_encrypted_at_rest(signed_in_client, user):
    signed_in_client.post(CREATE_URL)
    key = APIKey.objects.get(owner=user)

    stored = raw_secret_key_column(key)

    assert key.secret_key not in stored
    assert encryption.decrypt(stored) == key.secret_key


@pytest.mark.django_db
def test_disable_and_enable_a_key(signed_in_client, user):
    key = APIKey.objects.create(owner=user)

    disabled = signed_in_client.post(enable_url(key), {"enabled": "0"}, follow=True)

    assert disabled.redirect_chain == [(LIST_URL, 302)]
    assert messages_of(disabled) == [f"API key {key.secret_id} is now disabled."]
    assert APIKey.objects.get(pk=key.pk).enabled is False
    assert table_row(disabled.content.decode(), key.secret_id)[1] == "Disabled"

    enabled = signed_in_client.post(enable_url(key), {"enabled": "1"}, follow=True)

    assert messages_of(enabled) == [f"API key {key.secret_id} is now enabled."]
    assert APIKey.objects.get(pk=key.pk).enabled is True


@pytest.mark.django_db
def test_delete_a_key(signed_in_client, user):
    key = APIKey.objects.create(owner=user)
    kept = APIKey.objects.create(owner=user)

    response = signed_in_client.post(delete_url(key), follow=True)

    assert response.redirect_chain == [(LIST_URL, 302)]
    assert messages_of(response) == [f"API key {key.secret_id} was deleted."]
    assert list(APIKey.objects.values_list("pk", flat=True)) == [kept.pk]
    content = response.content.decode()
    assert table_row(content, key.secret_id) is None
    assert table_row(content, kept.secret_id) is not None


@pytest.mark.django_db
def test_enable_and_delete_need_a_post(signed_in_client, user):
    key = APIKey.objects.create(owner=user)

    assert signed_in_client.get(enable_url(key)).status_code == 405
    assert signed_in_client.get(delete_url(key)).status_code == 405
    assert APIKey.objects.get(pk=key.pk).enabled is True


@pytest.mark.django_db
def test_another_accounts_key_is_not_found(signed_in_client, other_user):
    theirs = APIKey.objects.create(owner=other_user)

    assert signed_in_client.post(enable_url(theirs), {"enabled": "0"}).status_code == 404
    assert signed_in_client.post(delete_url(theirs)).status_code == 404
    assert APIKey.objects.get(pk=theirs.pk).enabled is True
    assert theirs.secret_id not in signed_in_client.get(LIST_URL).content.decode()
    assert not APIKey.objects.filter(owner__username="alice").exists()


@pytest.mark.django_db(transaction=True)
def test_last_used_updates_after_an_api_call(live_server, signed_in_client, user):
    signed_in_client.post(CREATE_URL)
    key = APIKey.objects.get(owner=user)
    assert table_row(signed_in_client.get(LIST_URL).content.decode(), key.secret_id)[3] == "Never"

    sdk_client(live_server.url, key.secret_id, key.secret_key).DescribeProducts(
        build(models.DescribeProductsRequest, Offset=0, Limit=10)
    )

    used = APIKey.objects.get(pk=key.pk).last_used
    assert used is not None
    row = table_row(signed_in_client.get(LIST_URL).content.decode(), key.secret_id)
    assert row[3] == f"{used:%Y-%m-%d %H:%M} UTC"


@pytest.mark.django_db(transaction=True)
def test_a_key_disabled_on_the_page_stops_signing(live_server, signed_in_client, user):
    signed_in_client.post(CREATE_URL)
    key = APIKey.objects.get(owner=user)
    api = sdk_client(live_server.url, key.secret_id, key.secret_key)

    signed_in_client.post(enable_url(key), {"enabled": "0"})
    error = refusal(lambda: api.DescribePrivateCAs(models.DescribePrivateCAsRequest()))

    assert error.code == "AuthFailure.SecretIdNotFound"
    signed_in_client.post(enable_url(key), {"enabled": "1"})
    assert api.DescribePrivateCAs(models.DescribePrivateCAsRequest()).CAs == []


@pytest.mark.django_db(transaction=True)
def test_a_key_deleted_on_the_page_stops_signing(live_server, signed_in_client, user):
    signed_in_client.post(CREATE_URL)
    key = APIKey.objects.get(owner=user)
    api = sdk_client(live_server.url, key.secret_id, key.secret_key)

    signed_in_client.post(delete_url(key))

    assert refusal(lambda: api.DescribePrivateCAs(models.DescribePrivateCAsRequest())).code == (
        "AuthFailure.SecretIdNotFound"
    )
