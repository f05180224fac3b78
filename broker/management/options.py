"""What the broker commands share: the listener options and the account a broker serves."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError


def add_listener_arguments(parser) -> None:
    parser.add_argument("--port", type=int, default=settings.IOTHUB_MQTT_PORT)
    parser.add_argument("--bind", default=settings.IOTHUB_MQTT_BIND_ADDRESS)
    parser.add_argument("--host", default=settings.IOTHUB_MQTT_HOST)
    parser.add_argument(
        "--account",
        help="serve only this account's devices and CAs (recommended when several accounts use the console)",
    )


def account_named(username: str | None) -> AbstractBaseUser | None:
    if username is None:
        return None
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"There is no account named {username!r}.") from None
