import signal
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from broker.management.options import account_named, add_listener_arguments
from broker.services import BrokerSupervisor


class Command(BaseCommand):
    help = (
        "Run Mosquitto on the console's configuration, rewriting it and reloading the "
        "broker whenever devices, products or CAs change."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dir", dest="directory", type=Path, default=settings.IOTHUB_BROKER_DIR)
        add_listener_arguments(parser)
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between checks for changes")

    def handle(
        self,
        *args,
        directory: Path,
        port: int,
        bind: str,
        host: str,
        account: str | None,
        interval: float,
        **options,
    ) -> None:
        supervisor = BrokerSupervisor(
            directory, host=host, bind_address=bind, port=port, account=account_named(account)
        )
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        supervisor.start()
        self.stdout.write(
            f"Mosquitto listens on {bind}:{port} (TLS, client certificates); configuration in {directory}."
        )
        try:
            while not stopping:
                time.sleep(interval)
                if supervisor.process is not None and supervisor.process.poll() is not None:
                    self.stderr.write("Mosquitto exited; see mosquitto.log. Restarting.")
                    supervisor.start()
                supervisor.sync()
        finally:
            supervisor.stop()
