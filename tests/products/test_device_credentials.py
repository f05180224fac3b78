"""Generate Credentials on a Key device's page: a username and password the broker accepts until a chosen time."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from broker import decisions
from products import bundles, link_forms, link_views

from ..broker.link_service import authenticate, key_device, platform_device
from ..product_console import assert_message, device_url, text

pytestmark = pytest.mark.django_db


def credentials_url(device) -> str:
    return reverse("products:device_credentials", args=[device.product.product_id, device.name])


def generated(page: str, label: str) -> str:
    return (
        page.split(f"<dt>{label}</dt><dd>", 1)[1]
        .split('<code class="font-monospace">', 1)[1]
        .split("</code>", 1)[0]
    )


def test_form_offers_valid_until_and_the_signature(signed_in_client, user):
    device = key_device(user)

    response = signed_in_client.get(credentials_url(device))

    page = text(response)
    assert response.status_code == 200
    assert "Valid until (UTC)" in page
    assert 'name="algorithm" value="hmacsha256" id="id_algorithm_0" required checked>' in page
    assert "HMAC-SHA1" in page
    assert "<h2>Credentials</h2>" not in page


def test_generated_credentials_sign_in_until_the_chosen_time(client, signed_in_client, user, settings):
    device = key_device(user)
    until = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)

    response = signed_in_client.post(
        credentials_url(device),
        {"valid_until": until.strftime("%Y-%m-%dT%H:%M"), "algorithm": bundles.HMAC_SHA256},
    )

    page = text(response)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    username, password = generated(page, "Username"), generated(page, "Password")
    assert username.startswith(f"{device.client_id};12010126;")
    assert username.endswith(f";{int(until.timestamp())}")
    assert password == bundles.mqtt_password(username, device.psk)
    assert generated(page, "Client ID") == device.client_id
    assert generated(page, "Host") == settings.IOTHUB_MQTT_HOST
    assert f"<dt>Port</dt><dd>{settings.IOTHUB_MQTT_KEY_PORT} " in page
    answer = authenticate(
        client, clientid=device.client_id, username=username, password=password, listener="key"
    )
    assert answer["result"] == "allow"


def test_hmac_sha1_credentials_are_accepted_by_the_broker(client, signed_in_client, user):
    device = key_device(user)
    until = datetime.now(UTC) + timedelta(hours=3)

    page = text(
        signed_in_client.post(
            credentials_url(device),
            {"valid_until": until.strftime("%Y-%m-%dT%H:%M"), "algorithm": bundles.HMAC_SHA1},
        )
    )

    password = generated(page, "Password")
    assert password.endswith(";hmacsha1")
    answer = authenticate(
        client,
        clientid=device.client_id,
        username=generated(page, "Username"),
        password=password,
        listener="key",
    )
    assert answer["result"] == "allow"


def test_a_time_in_the_past_is_refused(signed_in_client, user):
    device = key_device(user)
    past = datetime.now(UTC) - timedelta(minutes=5)

    page = text(
        signed_in_client.post(
            credentials_url(device),
            {"valid_until": past.strftime("%Y-%m-%dT%H:%M"), "algorithm": "hmacsha256"},
        )
    )

    assert link_forms.VALID_UNTIL_PAST in page
    assert "<h2>Credentials</h2>" not in page


def test_certificate_devices_have_no_credentials_page(signed_in_client, user):
    device = platform_device(user)

    response = signed_in_client.get(credentials_url(device), follow=True)

    assert response.redirect_chain == [(device_url(device), 302)]
    assert_message(response, link_views.CREDENTIALS_FOR_KEY_DEVICES)


def test_another_accounts_device_is_a_404(signed_in_client, other_user):
    device = key_device(other_user)
    until = datetime.now(UTC) + timedelta(days=1)

    assert signed_in_client.get(credentials_url(device)).status_code == 404
    response = signed_in_client.post(
        credentials_url(device), {"valid_until": until.strftime("%Y-%m-%dT%H:%M"), "algorithm": "hmacsha256"}
    )
    assert response.status_code == 404
    assert device.psk not in response.content.decode()


def test_expired_generated_credentials_are_refused_by_the_broker(client, user):
    """The page's credentials and the broker's check share one HMAC builder: an old expiry is refused."""
    device = key_device(user)
    credentials = bundles.key_credentials(
        device.client_id, device.psk, int(datetime.now(UTC).timestamp()) - 10
    )

    answer = authenticate(
        client,
        clientid=device.client_id,
        username=credentials.username,
        password=credentials.password,
        listener="key",
    )

    assert answer["code"] == decisions.USERNAME_EXPIRED
