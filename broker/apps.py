from django.apps import AppConfig


class BrokerConfig(AppConfig):
    name = "broker"
    verbose_name = "MQTT broker"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the change receivers)
