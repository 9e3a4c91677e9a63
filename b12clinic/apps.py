from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class B12ClinicConfig(AppConfig):
    name = "b12clinic"
    verbose_name = "B12 Clinic"

    def ready(self) -> None:
        from b12clinic.startup import check_secret_key, check_site_url

        checks.register(check_secret_key, checks.Tags.security)
        checks.register(check_site_url, checks.Tags.security)
