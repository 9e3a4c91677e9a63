from django.apps import AppConfig


class AuditConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "audit"
    verbose_name = "Access log"

    def ready(self) -> None:
        from audit import signals

        signals.connect_lockout()
