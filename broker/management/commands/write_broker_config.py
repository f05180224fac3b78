from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from broker.management.options import add_broker_arguments, broker_options
from broker.services import BrokerError, build_plugin, state_directory, write_configuration


class Command(BaseCommand):
    help = (
        "Build the broker plugin and write a complete Mosquitto configuration (two TLS listeners, "
        "trusted CAs, server certificate, the console's token, the plugin)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", nargs="?", type=Path, default=settings.IOTHUB_BROKER_DIR)
        add_broker_arguments(parser)

    def handle(self, *args, directory: Path, **options) -> None:
        try:
            directory = state_directory(directory)
            conf = write_configuration(
                directory, broker_options(options), host=options["host"], plugin=build_plugin()
            )
        except BrokerError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Wrote {conf}.")
        self.stdout.write(f"Start it with: mosquitto -c {conf}")
