from __future__ import annotations

from django.apps import AppConfig


class FhirApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fhir_api"
    verbose_name = "FHIR API"
