"""Messages from the console to a device (Publish Message, the API's PublishMessage).

The console does not connect to the broker as a client: it writes a publish command
addressed to the broker holding the device's connection, which publishes it itself
(`mosquitto_broker_publish_copy`), so no device credential can pose as the console.
"""

from __future__ import annotations

import base64

from django.db import transaction

from iothub_console.errors import ServiceError
from iothub_console.validators import has_any_control_characters
from products.models import Device

from .models import BrokerCommand
from .receivers import prune_commands

DEVICE_OFFLINE_CODE = "FailedOperation.DeviceOffline"
INVALID_TOPIC_CODE = "FailedOperation.InvalidTopicName"
INVALID_VALUE_CODE = "InvalidParameterValue"

MAX_TOPIC_CHARS = 255
MAX_PAYLOAD_BYTES = 32 * 1024
QOS_LEVELS = (0, 1)

DEVICE_OFFLINE = (
    'The device "{name}" is not connected, so the message was not sent. '
    "Messages reach only a device that is online."
)
TOPIC_OUTSIDE_PREFIX = (
    'The topic must start with "{prefix}" followed by a topic name, such as "{prefix}control".'
)
TOPIC_INVALID = "The topic may not contain the wildcards + or #, control characters, or empty levels."
TOPIC_TOO_LONG = "The topic may be at most 255 characters."
PAYLOAD_TOO_LARGE = "The payload may be at most 32 KiB."
QOS_INVALID = "QoS must be 0 or 1."

TOPIC_FIELD = "topic"
PAYLOAD_FIELD = "payload"
QOS_FIELD = "qos"


def topic_prefix(device: Device) -> str:
    return f"{device.product.product_id}/{device.name}/"


def validate_topic(device: Device, topic: str) -> None:
    prefix = topic_prefix(device)
    if len(topic) > MAX_TOPIC_CHARS:
        raise ServiceError(INVALID_TOPIC_CODE, TOPIC_TOO_LONG, TOPIC_FIELD)
    if not topic.startswith(prefix) or len(topic) == len(prefix):
        raise ServiceError(INVALID_TOPIC_CODE, TOPIC_OUTSIDE_PREFIX.format(prefix=prefix), TOPIC_FIELD)
    if "+" in topic or "#" in topic or has_any_control_characters(topic) or "" in topic.split("/"):
        raise ServiceError(INVALID_TOPIC_CODE, TOPIC_INVALID, TOPIC_FIELD)


def publish_message(*, device: Device, topic: str, payload: bytes, qos: int = 0) -> BrokerCommand:
    """Send `payload` to the connected `device` on `topic` (under its own prefix)."""
    validate_topic(device, topic)
    if qos not in QOS_LEVELS:
        raise ServiceError(INVALID_VALUE_CODE, QOS_INVALID, QOS_FIELD)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ServiceError(INVALID_VALUE_CODE, PAYLOAD_TOO_LARGE, PAYLOAD_FIELD)
    with transaction.atomic():
        link = Device.objects.filter(pk=device.pk).values("online", "connected_broker").first()
        if link is None or not link["online"]:
            raise ServiceError(DEVICE_OFFLINE_CODE, DEVICE_OFFLINE.format(name=device.name))
        prune_commands()
        return BrokerCommand.objects.create(
            kind=BrokerCommand.Kind.PUBLISH,
            target=device.client_id,
            broker_id=link["connected_broker"] or None,
            payload={
                "topic": topic,
                "payload_base64": base64.b64encode(payload).decode("ascii"),
                "qos": qos,
                "retain": False,
            },
        )
