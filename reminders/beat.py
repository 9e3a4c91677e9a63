"""What one beat tick does, and the same by hand without a broker (`manage.py send_reminders`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from reminders.digest import staff_digest_send, staff_digests_create
from reminders.letters import letters_create
from reminders.models import ReminderSettings
from reminders.outbox import ScanResult, reminder_send, reminders_scan


def digests_due(*, now: datetime.datetime, config: ReminderSettings | None = None) -> bool:
    """Whether today's staff digests are due: from the clinic's digest hour (clinic time) on."""
    config = config or ReminderSettings.load()
    return timezone.localtime(now).hour >= config.digest_hour


def beat_tick(*, now: datetime.datetime, enqueue: bool = True) -> ScanResult:
    """The scan, then today's staff digests once the digest hour has come (one row per person and day,
    so every later tick finds them made), and the letters for the reminders the scan could not email.
    Tasks are queued after commit when `enqueue`."""
    config = ReminderSettings.load()
    if digests_due(now=now, config=config):
        staff_digests_create(now=now, enqueue=False)  # the scan below queues every ready digest
    result = reminders_scan(now=now, enqueue=enqueue)
    letters_create(now=now)  # beside the reminders the scan skipped: printed by staff (reminders.letters)
    return result


@dataclass
class SyncRun:
    scan: ScanResult
    outcomes: dict[str, int]


def reminders_send_now(*, now: datetime.datetime) -> SyncRun:
    """One tick, then every ready reminder and today's digests sent here, without a broker."""
    scan = beat_tick(now=now, enqueue=False)
    outcomes: dict[str, int] = {}
    for pk in scan.due_ids:
        outcome = reminder_send(reminder_id=pk, now=now)
        outcomes[outcome.status] = outcomes.get(outcome.status, 0) + 1
    for pk in scan.digest_ids:
        outcome = staff_digest_send(digest_id=pk, now=now)
        key = f"digest_{outcome.status}"
        outcomes[key] = outcomes.get(key, 0) + 1
    return SyncRun(scan=scan, outcomes=outcomes)
