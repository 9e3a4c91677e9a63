"""Celery tasks of the care status: the daily refresh, and a protocol profile's preview or
re-evaluation after publishing (care.preview.profile_run_execute, the run's id as the argument).

Beat runs `refresh_stale_care_statuses` every 15 minutes. It refreshes only active patients whose
stored status was evaluated for an earlier day, so the first run after midnight does the day's work
and later runs do nothing. A beat or worker that was down at midnight catches up on its next run;
running it twice, or on two workers at once, writes the same rows.
"""

from __future__ import annotations

import logging

from celery import shared_task

from care.preview import profile_run_execute
from care.services import care_status_refresh_stale

logger = logging.getLogger(__name__)


@shared_task
def refresh_stale_care_statuses() -> int:
    summary = care_status_refresh_stale()
    logger.info("care statuses refreshed: %s patients, %s alerts", summary.patients, summary.alerts)
    return summary.patients


@shared_task(soft_time_limit=1800, time_limit=1900)
def run_profile(run_id: int) -> str:
    return profile_run_execute(run_id=run_id)
