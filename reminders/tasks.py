"""Celery tasks of the reminders: thin, only ids as arguments, safe to run twice.

Beat runs `scan_reminders` every 5 minutes: one tick (reminders.beat) creates the due rows and, from
the clinic's digest hour on, the day's staff digests, then queues one `send_batch` task per
SEND_BATCH_SIZE ready rows after its transaction commits. Retries are rows with a later
`next_attempt_at` that a later scan queues again, never long countdowns in the broker. Time limits
come from settings (CELERY_TASK_ANNOTATIONS).
"""

from __future__ import annotations

import collections
import logging

from celery import shared_task
from django.utils import timezone

from reminders import beat, digest, outbox, sending

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
def send_batch(label: str, ids: list[int]) -> dict[str, int]:
    """Send the rows `ids` of the outbox model `label` ("reminders.reminder", "reminders.staffdigest",
    any registered Outbound) over one SMTP session; the count of each outcome."""
    outcomes = sending.send_batch(sending.outbound_for(label), ids, timezone.now())
    return dict(collections.Counter(outcome.status for outcome in outcomes.values()))


# One row each: the tasks queued before batches, still in a broker during an upgrade; and for callers
# that queue a single row.
@shared_task
def send_reminder(reminder_id: int) -> str:
    return outbox.reminder_send(reminder_id=reminder_id, now=timezone.now()).status


@shared_task
def send_staff_digest(digest_id: int) -> str:
    return digest.staff_digest_send(digest_id=digest_id, now=timezone.now()).status
