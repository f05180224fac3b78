"""What the console shows about a device's link to the broker, for its page and its status poll."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from iothub_console.templatetags.console import utc

from . import bundles
from .models import Device

NEVER = "—"
STATUS_BADGES = {
    "Online": "text-bg-success",
    "Offline": "text-bg-secondary",
    "Not activated": "text-bg-light border",
}


def _moment(value: datetime | None) -> str:
    return f"{utc(value, 'second')} UTC" if value else NEVER


def status_fields(device: Device) -> dict[str, str]:
    """The status card's values as text: the page renders them and the poll returns them."""
    refused = (
        f"{_moment(device.last_refused_at)}: {device.last_refusal_reason}"
        if device.last_refused_at
        else NEVER
    )
    return {
        "status": device.status,
        "badge_class": STATUS_BADGES[device.status],
        "first_online": _moment(device.activated_at),
        "last_online": _moment(device.last_online_at),
        "last_offline": _moment(device.last_offline_at),
        "client_ip": device.client_ip or NEVER,
        "last_refused": refused,
    }


def mqtt_port(device: Device) -> int:
    """Certificate devices use the listener that asks for a client certificate; Key devices the other."""
    return settings.IOTHUB_MQTT_PORT if device.product.uses_certificates else settings.IOTHUB_MQTT_KEY_PORT


def username_form(device: Device) -> str:
    """Tencent's username as the bundle writes it, with its variable parts named."""
    return f"{device.client_id};{bundles.SDK_APP_ID};<connid>;<expiry>"
