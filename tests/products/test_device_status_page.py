"""The device page and list show the status the brokers report; the page polls a small JSON URL."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from broker import decisions
from products import link_status, services
from products.models import Product

from ..broker.link_service import (
    BROKER,
    at,
    authenticate,
    connected,
    disconnected,
    key_device,
    platform_device,
    send_events,
)
from ..product_console import device_url, devices_url, text

pytestmark = pytest.mark.django_db


def status_url(device) -> str:
    return reverse("products:device_status", args=[device.product.product_id, device.name])


def test_never_connected_device_shows_not_activated(signed_in_client, user):
    device = platform_device(user)

    page = text(signed_in_client.get(device_url(device)))

    assert '<span class="badge text-bg-light border" data-device-link="status">Not activated</span>' in page
    assert '<dt>First online</dt><dd data-device-link="first_online">—</dd>' in page
    assert '<dt>Client IP</dt><dd data-device-link="client_ip">—</dd>' in page
    assert '<dt>Last refused attempt</dt><dd data-device-link="last_refused">—</dd>' in page


def test_connected_device_page_shows_online_with_times_and_address(client, signed_in_client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0), peerhost="203.0.113.5")])

    response = signed_in_client.get(device_url(device))

    page = text(response)
    assert response.status_code == 200
    assert '<span class="badge text-bg-success" data-device-link="status">Online</span>' in page
    assert '<dt>First online</dt><dd data-device-link="first_online">2026-11-30 12:00:00 UTC</dd>' in page
    assert '<dt>Last online</dt><dd data-device-link="last_online">2026-11-30 12:00:00 UTC</dd>' in page
    assert '<dt>Last offline</dt><dd data-device-link="last_offline">—</dd>' in page
    assert '<dt>Client IP</dt><dd data-device-link="client_ip">203.0.113.5</dd>' in page


def test_disconnected_device_page_shows_offline_and_last_offline(client, signed_in_client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0)), disconnected(device.client_id, at(90))])

    page = text(signed_in_client.get(device_url(device)))

    assert '<span class="badge text-bg-secondary" data-device-link="status">Offline</span>' in page
    assert '<dt>Last offline</dt><dd data-device-link="last_offline">2026-11-30 12:01:30 UTC</dd>' in page


def test_page_shows_the_last_refused_attempt_with_its_reason(client, signed_in_client, user):
    device = key_device(user)
    authenticate(client, clientid=device.client_id, username="bad", password="bad", listener="key")
    device.refresh_from_db()

    page = text(signed_in_client.get(device_url(device)))

    stamp = device.last_refused_at.strftime("%Y-%m-%d %H:%M:%S")
    reason = escape(decisions.USERNAME_MALFORMED_REASON)
    assert (
        f'<dt>Last refused attempt</dt><dd data-device-link="last_refused">{stamp} UTC: {reason}</dd>' in page
    )


def test_page_loads_the_status_poll_script_and_names_its_url(signed_in_client, user):
    device = platform_device(user)

    page = signed_in_client.get(device_url(device)).content.decode()

    assert f'data-device-status-url="{status_url(device)}"' in page
    assert '<script src="/static/js/device_status.js" defer></script>' in page
    assert "<script>" not in page  # no inline script: the Content-Security-Policy forbids it


def test_status_url_follows_connect_and_disconnect(client, signed_in_client, user):
    device = platform_device(user)
    assert signed_in_client.get(status_url(device)).json()["status"] == "Not activated"

    send_events(client, [connected(device.client_id, at(0), peerhost="198.51.100.3")])
    online = signed_in_client.get(status_url(device))
    send_events(client, [disconnected(device.client_id, at(5))])
    offline = signed_in_client.get(status_url(device)).json()

    assert online.status_code == 200
    assert online["Cache-Control"] == "no-store"
    assert online.json() == {
        "status": "Online",
        "badge_class": "text-bg-success",
        "first_online": "2026-11-30 12:00:00 UTC",
        "last_online": "2026-11-30 12:00:00 UTC",
        "last_offline": "—",
        "client_ip": "198.51.100.3",
        "last_refused": "—",
    }
    assert (offline["status"], offline["badge_class"], offline["last_offline"]) == (
        "Offline",
        "text-bg-secondary",
        "2026-11-30 12:00:05 UTC",
    )


def test_status_url_of_another_accounts_device_is_a_404(signed_in_client, other_user):
    device = platform_device(other_user)

    assert signed_in_client.get(status_url(device)).status_code == 404


def test_device_list_shows_each_devices_status(client, signed_in_client, user):
    device = platform_device(user, name="dev_on")
    product = device.product
    offline = services.create_device(
        product=product, name="dev_off", credentials=services.DeviceCredentials()
    )
    services.create_device(product=product, name="dev_new", credentials=services.DeviceCredentials())
    send_events(client, [connected(device.client_id, at(0)), connected(offline.client_id, at(0))])
    send_events(client, [disconnected(offline.client_id, at(1))])

    page = text(signed_in_client.get(devices_url(product)))

    assert "dev_on</a>" in page
    rows = {
        name: page.split(f">{name}</a>", 1)[1].split("</tr>", 1)[0]
        for name in ("dev_on", "dev_off", "dev_new")
    }
    assert '<span class="badge text-bg-success">Online</span>' in rows["dev_on"]
    assert '<span class="badge text-bg-secondary">Offline</span>' in rows["dev_off"]
    assert '<span class="badge text-bg-light border">Not activated</span>' in rows["dev_new"]


def test_product_settings_and_list_show_online_devices(client, signed_in_client, user):
    device = platform_device(user)
    send_events(client, [connected(device.client_id, at(0))], broker=BROKER)

    settings_page = text(
        signed_in_client.get(reverse("products:product_detail", args=[device.product.product_id]))
    )
    list_page = text(signed_in_client.get(reverse("products:product_list")))

    assert "<dt>Online devices</dt><dd>1</dd>" in settings_page
    assert '<th class="text-end">Online devices</th>' in list_page
    assert '<td class="text-end">1</td> <td class="text-end">1</td>' in list_page
    assert Product.objects.get(pk=device.product_id).online_count == 1


def test_key_device_page_names_the_key_port_and_credentials(signed_in_client, user, settings):
    device = key_device(user)

    page = text(signed_in_client.get(device_url(device)))

    assert (
        f"<dt>Port</dt><dd>{settings.IOTHUB_MQTT_KEY_PORT} (MQTT over TLS, username and password)</dd>"
        in page
    )
    assert (
        f"<code>{link_status.username_form(device)}</code>".replace("<connid>", "&lt;connid&gt;").replace(
            "<expiry>", "&lt;expiry&gt;"
        )
        in page
    )
    assert "Generate Credentials</a>" in page
    assert "a1b2c" not in page


def test_certificate_device_page_names_the_certificate_port(signed_in_client, user, settings):
    device = platform_device(user)

    page = text(signed_in_client.get(device_url(device)))

    assert f"<dt>Port</dt><dd>{settings.IOTHUB_MQTT_PORT} (MQTT over TLS, client certificate)</dd>" in page
    assert "Generate Credentials" not in page
