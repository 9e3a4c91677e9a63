"""Celery task of the application layer: the daily job that marks missed appointments.

Beat runs `mark_missed_appointments` every 15 minutes: booked appointments whose day has passed at
their clinic become missed (actions.appointments_mark_missed), which puts their patients on the
outreach list. Idempotent: the first run after each clinic's midnight does the day's work; a beat
that was down catches up on its next run.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from clinic import actions

logger = logging.getLogger(__name__)


@shared_task
def mark_missed_appointments() -> int:
    marked = actions.appointments_mark_missed(now=timezone.now())
    if marked:
        logger.info("appointments marked missed: %s", marked)
    return marked
