"""The import as a Celery task: thin, the run's id as its argument (exchange.services.import_run_execute)."""

from __future__ import annotations

from celery import shared_task

from exchange import services


@shared_task(soft_time_limit=3600, time_limit=3700)
def run_import(run_id: int) -> str:
    return services.import_run_execute(run_id=run_id)
