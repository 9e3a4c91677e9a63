"""Celery tasks of the reminders: thin, only ids as arguments, safe to run twice.

Beat runs `scan_reminders` every 5 minutes: one tick (reminders.beat) creates the due rows and, from
the clinic's digest hour on, the day's staff digests, then queues one `send_*` task per ready row
after its transaction commits. Retries are rows with a later `next_attempt_at` that a later scan
queues again, never long countdowns in the broker. Time limits come from settings
(CELERY_TASK_ANNOTATIONS).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from reminders import beat, digest, outbox
from reminders.models import StaffDigest

logger = logging.getLogger(__name__)


@shared_task
def scan_reminders() -> int:
    result = beat.beat_tick(now=timezone.now())
    logger.info(
        "reminders scan: %s created, %s skipped, %s expired, %s requeued, %s queued",
        result.created,
        result.skipped,
        result.expired,
        result.requeued,
        len(result.due_ids),
    )
    return len(result.due_ids)


@shared_task
def send_reminder(reminder_id: int) -> str:
    return outbox.reminder_send(reminder_id=reminder_id, now=timezone.now()).status


@shared_task
def send_staff_digest(digest_id: int) -> str:
    now = timezone.now()
    try:
        return digest.staff_digest_send(digest_id=digest_id, now=now).status
    except (OperationalError, InterfaceError) as error:
        # Before the SMTP exchange (deliver handles the database after it): nothing was sent.
        return outbox.release(StaffDigest, digest_id, claimed_at=now, now=now, error=error).status
