"""What the broker commands share: where the broker listens and which console it asks."""

from django.conf import settings

from broker.config import BrokerOptions
from broker.services import default_broker_id


def add_broker_arguments(parser) -> None:
    parser.add_argument(
        "--port", type=int, default=settings.IOTHUB_MQTT_PORT, help="certificate devices' port"
    )
    parser.add_argument(
        "--key-port", type=int, default=settings.IOTHUB_MQTT_KEY_PORT, help="Key devices' port"
    )
    parser.add_argument("--bind", default=settings.IOTHUB_MQTT_BIND_ADDRESS)
    parser.add_argument(
        "--host", default=settings.IOTHUB_MQTT_HOST, help="the name in the server certificate"
    )
    parser.add_argument("--console-url", default=settings.IOTHUB_CONSOLE_URL, help="where the plugin asks")
    parser.add_argument(
        "--broker-id", help="names this broker to the console (default <hostname>:<port>); unique per broker"
    )


def broker_options(options: dict) -> BrokerOptions:
    return BrokerOptions(
        bind_address=options["bind"],
        port=options["port"],
        key_port=options["key_port"],
        console_url=options["console_url"].rstrip("/"),
        broker_id=options["broker_id"] or default_broker_id(options["port"]),
    )
