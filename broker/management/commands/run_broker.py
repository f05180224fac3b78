import signal
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from broker.management.options import add_broker_arguments, broker_options
from broker.services import Broker, BrokerError, build_plugin, state_directory


class Command(BaseCommand):
    help = (
        "Run Mosquitto with the console's plugin: the console decides every connection. "
        "Newly bound CAs are trusted without a restart; if Mosquitto stops, so does this command."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dir", dest="directory", type=Path, default=settings.IOTHUB_BROKER_DIR)
        add_broker_arguments(parser)
        parser.add_argument(
            "--interval", type=float, default=2.0, help="seconds between checks for newly bound CAs"
        )

    def handle(self, *args, directory: Path, interval: float, **options) -> None:
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        listen = broker_options(options)
        broker = None
        try:
            plugin = build_plugin()
            directory = state_directory(directory)
            broker = Broker(directory, listen, host=options["host"])
            broker.start(plugin)
            self.stdout.write(
                f"Mosquitto listens on {listen.bind_address}:{listen.port} (certificate devices) and "
                f"{listen.bind_address}:{listen.key_port} (Key devices), asking {listen.console_url} "
                f"as broker {listen.broker_id!r}. Files and log in {directory}."
            )
            while not stopping:
                time.sleep(interval)
                broker.check()
                broker.refresh_trust()
        except BrokerError as error:
            raise CommandError(str(error)) from None
        finally:
            if broker is not None:
                broker.stop()
