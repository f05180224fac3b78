from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Print the bearer token the /broker/v1/ endpoints expect, for a broker configured by hand "
        "(EMQX's HTTP authentication, authorization and webhook). run_broker writes it for Mosquitto."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(settings.IOTHUB_BROKER_TOKEN)
