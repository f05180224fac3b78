from django.apps import AppConfig


class BrokerConfig(AppConfig):
    name = "broker"
    verbose_name = "MQTT broker"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (turns revocations into broker commands)
