from django.apps import AppConfig


class BrokerConfig(AppConfig):
    name = "broker"
    verbose_name = "MQTT broker"

    def ready(self) -> None:
        from . import receivers, signals  # noqa: F401  (connects the change receivers)
