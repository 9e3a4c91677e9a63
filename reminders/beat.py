"""What one beat tick does, and the same by hand without a broker (`manage.py send_reminders`)."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from reminders.digest import DIGESTS, staff_digests_create
from reminders.letters import letters_create
from reminders.models import ReminderSettings
from reminders.outbox import REMINDERS, ScanResult, reminders_scan
from reminders.sending import send_batch


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
    """One tick, then every ready reminder and today's digests sent here, without a broker, in batches
    of SEND_BATCH_SIZE (one SMTP session each), as the workers would."""
    scan = beat_tick(now=now, enqueue=False)
    outcomes: Counter[str] = Counter()
    for outbound, ids, prefix in ((REMINDERS, scan.due_ids, ""), (DIGESTS, scan.digest_ids, "digest_")):
        for start in range(0, len(ids), settings.SEND_BATCH_SIZE):
            batch = send_batch(outbound, ids[start : start + settings.SEND_BATCH_SIZE], now)
            outcomes.update(f"{prefix}{outcome.status}" for outcome in batch.values())
            if any(outcome.status in ("unrecorded", "not_sent") for outcome in batch.values()):
                # The database is away: stop here; the rows stay for the next scan (and its repair).
                return SyncRun(scan=scan, outcomes=dict(outcomes))
    return SyncRun(scan=scan, outcomes=dict(outcomes))
