from __future__ import annotations

from django.apps import AppConfig


class LabsInConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "labs_in"
    verbose_name = "Lab results received (HL7 v2)"
