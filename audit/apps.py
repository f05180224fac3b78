from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit Log"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the sign-in failure receiver)
