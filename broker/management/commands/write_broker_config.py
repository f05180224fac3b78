from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from broker.management.options import account_named, add_listener_arguments
from broker.services import write_configuration


class Command(BaseCommand):
    help = "Write a complete Mosquitto configuration (TLS listener, trusted CAs, server certificate, ACL)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", nargs="?", type=Path, default=settings.IOTHUB_BROKER_DIR)
        add_listener_arguments(parser)

    def handle(
        self, *args, directory: Path, port: int, bind: str, host: str, account: str | None, **options
    ) -> None:
        result = write_configuration(
            directory, host=host, bind_address=bind, port=port, account=account_named(account)
        )
        changed = ", ".join(sorted(result.changed)) or "nothing"
        self.stdout.write(f"Wrote {directory / 'mosquitto.conf'} (changed: {changed}).")
        self.stdout.write(f"Start it with: mosquitto -c {directory / 'mosquitto.conf'}")
