from __future__ import annotations

from django.apps import AppConfig


class RemindersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reminders"
    verbose_name = "Reminders"

    def ready(self) -> None:
        # Each outbox model registers how it is sent (reminders.sending.register) where it is defined;
        # import them all, so that any process (worker, beat, web) can send and repair every one.
        from reminders import digest, outbox  # noqa: F401
