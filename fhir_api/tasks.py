"""The bulk export as a Celery task: thin, the export's id as its argument (actions.export_run)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from fhir_api import actions


@shared_task(soft_time_limit=3600, time_limit=3700)
def run_export(export_id: str) -> str:
    return actions.export_run(export_id=export_id)


@shared_task
def expire_exports() -> int:
    return actions.exports_expire(now=timezone.now())
