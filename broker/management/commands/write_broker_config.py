from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from broker.services import write_configuration


class Command(BaseCommand):
    help = "Write a complete Mosquitto configuration (TLS listener, trusted CAs, server certificate, ACL)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", nargs="?", type=Path, default=settings.IOTHUB_BROKER_DIR)
        parser.add_argument("--port", type=int, default=settings.IOTHUB_MQTT_PORT)
        parser.add_argument("--bind", default=settings.IOTHUB_MQTT_BIND_ADDRESS)
        parser.add_argument("--host", default=settings.IOTHUB_MQTT_HOST)
        parser.add_argument(
            "--account",
            help="serve only this account's devices and CAs (recommended when several accounts use the console)",
        )

    def handle(self, *args, directory: Path, port: int, bind: str, host: str, account: str | None, **options) -> None:
        result = write_configuration(directory, host=host, bind_address=bind, port=port, account=_account(account))
        changed = ", ".join(sorted(result.changed)) or "nothing"
        self.stdout.write(f"Wrote {directory / 'mosquitto.conf'} (changed: {changed}).")
        self.stdout.write(f"Start it with: mosquitto -c {directory / 'mosquitto.conf'}")


def _account(username: str | None):
    if username is None:
        return None
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"There is no account named {username!r}.") from None
