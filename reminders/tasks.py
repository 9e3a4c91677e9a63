"""Celery tasks of the reminders: thin, only ids as arguments, safe to run twice.

Beat runs `scan_reminders` every 5 minutes and `send_staff_digests` every morning; both queue one
`send_*` task per row after their transaction commits. Retries are rows with a later
`next_attempt_at` that a later scan queues again, never long countdowns in the broker.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from reminders import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def scan_reminders() -> int:
    result = services.reminders_scan(now=timezone.now())
    logger.info(
        "reminders scan: %s created, %s skipped, %s expired, %s requeued, %s queued",
        result.created,
        result.skipped,
        result.expired,
        result.requeued,
        len(result.due_ids),
    )
    return len(result.due_ids)


# The SMTP timeout (EMAIL_TIMEOUT, 10 s by default) ends a hung send well before the soft limit.
@shared_task(acks_late=True, soft_time_limit=45, time_limit=60)
def send_reminder(reminder_id: int) -> str:
    return services.reminder_send(reminder_id=reminder_id, now=timezone.now()).status


@shared_task(acks_late=True, soft_time_limit=120, time_limit=180)
def send_staff_digests() -> int:
    return len(services.staff_digests_create(now=timezone.now()))


@shared_task(acks_late=True, soft_time_limit=45, time_limit=60)
def send_staff_digest(digest_id: int) -> str:
    return services.staff_digest_send(digest_id=digest_id, now=timezone.now()).status
