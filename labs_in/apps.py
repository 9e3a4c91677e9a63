from __future__ import annotations

from django.apps import AppConfig


class LabsInConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "labs_in"
    verbose_name = "Lab results received (HL7 v2)"

    def ready(self) -> None:
        from clinic.extensions import DashboardCount, dashboard_count_register
        from labs_in.selectors import queue_count

        dashboard_count_register(
            DashboardCount(
                label="unmatched lab result",
                url_name="labs_in:queue",
                count=lambda clinics: queue_count(clinics=clinics),
            )
        )
