"""The reminder outbox: every write to the reminder rows.

The database is the source of truth, the broker only a doorbell:
- `reminders_scan` (beat, every 5 minutes) creates the rows the clinic's rules call for, at most one
  per (patient, kind, due date, channel), and rings the doorbell for each pending row after commit.
  A lost message, a broker that was down or a worker that died mid-send are all repaired by a later
  scan, because it looks at the rows, not at the queue.
- `reminder_send` (the task) claims a row with a conditional update and goes on only if it won, so a
  message delivered twice or two workers racing send one email. It re-checks that the obligation
  still stands, sends, and records the result: temporary SMTP errors go back to pending with a
  backoff, permanent ones end failed.
- `reminders_cancel_obsolete` runs in the transaction of every clinical write (the application
  layer, clinic.actions, calls it after the care status refresh): the injection or lab recorded
  cancels what no longer applies.
Time is passed in (`now`); the clinic's calendar day is `timezone.localdate(now)`. The rules are
reminders.rules, the message reminders.emails, the staff digest reminders.digest.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from care.models import CareStatus
from patients import services as record
from patients.models import Patient
from protocols.engine.evaluate import NOT_STARTED
from reminders import emails
from reminders.models import (
    DUE_SOON_KINDS,
    INJECTION_KINDS,
    RECHECK_KINDS,
    Kind,
    OutboxMessage,
    Reminder,
    ReminderEvent,
    ReminderSettings,
    StaffDigest,
    Status,
)
from reminders.rules import (
    MAX_ATTEMPTS,
    OVERDUE_LOOKBACK,
    STUCK_AFTER,
    backoff,
    current_due,
    describe,
    is_temporary,
    obligations,
    patient_skip_reason,
)

logger = logging.getLogger(__name__)

OPT_OUT_REASON = "Opted out of email reminders with the link in a reminder."


def _obsolete_reason(reminder: Reminder, today: datetime.date) -> str:
    status = CareStatus.objects.filter(patient_id=reminder.patient_id).first()
    if current_due(status, reminder.kind) != reminder.due_date:
        return "no longer due: the visit was recorded or the due date changed"
    if reminder.kind in DUE_SOON_KINDS and today > reminder.due_date:
        return "the due date passed before it could be sent"
    return ""


# Events and transitions --------------------------------------------------------------------------


def _events(reminder_ids: Iterable[int], status: str, note: str, now: datetime.datetime) -> None:
    ReminderEvent.objects.bulk_create(
        [ReminderEvent(reminder_id=pk, at=now, status=status, note=note) for pk in reminder_ids]
    )


def _transition(
    queryset: models.QuerySet[Reminder], *, status: str, note: str, now: datetime.datetime, **values: object
) -> list[int]:
    """Move the rows of `queryset` to `status` (one UPDATE), with an event each; the ids moved.

    The rows are locked first, so a worker claiming one at the same time either wins (and the row is
    no longer in `queryset`) or waits for this transaction."""
    with transaction.atomic():
        ids = list(queryset.select_for_update().values_list("pk", flat=True))
        if ids:
            Reminder.objects.filter(pk__in=ids).update(status=status, updated_at=now, **values)
            _events(ids, status, note, now)
    return ids


def reminders_cancel_obsolete(*, patient: Patient, now: datetime.datetime | None = None) -> list[int]:
    """Cancel the patient's pending reminders whose due date is no longer the care status's.

    Runs inside the clinical write's transaction, after the care status refresh: recording the
    injection or the lab result cancels the reminder about it, and a rollback brings it back."""
    now = now or timezone.now()
    status = CareStatus.objects.filter(patient=patient).first()
    pending = Reminder.objects.filter(patient=patient, status=Status.PENDING)
    stale = Q(pk__in=[])
    for kinds in (INJECTION_KINDS, RECHECK_KINDS):
        due = current_due(status, kinds[0])
        stale |= Q(kind__in=kinds) & (~Q(due_date=due) if due is not None else Q())
    return _transition(
        pending.filter(stale),
        status=Status.CANCELLED,
        note="no longer due: the visit was recorded or the due date changed",
        now=now,
        reason="no longer due",
    )


DISCHARGED = "discharged"


def reminders_follow_discharge(*, patient: Patient, now: datetime.datetime | None = None) -> list[int]:
    """After a discharge or a re-admission, in its transaction (after the care status refresh).

    Discharged: every pending reminder is cancelled (reason "discharged"). Re-admitted: those the
    discharge cancelled whose due date is still the care status's are pending again, so the scan sends
    them; the others stay cancelled, and the scan creates rows for any new due date."""
    now = now or timezone.now()
    if not patient.is_active:
        return _transition(
            Reminder.objects.filter(patient=patient, status=Status.PENDING),
            status=Status.CANCELLED,
            note="the patient was discharged",
            now=now,
            reason=DISCHARGED,
        )
    status = CareStatus.objects.filter(patient=patient).first()
    still_due = Q(pk__in=[])
    for kinds in (INJECTION_KINDS, RECHECK_KINDS):
        due = current_due(status, kinds[0])
        if due is not None:
            still_due |= Q(kind__in=kinds, due_date=due)
    return _transition(
        Reminder.objects.filter(patient=patient, status=Status.CANCELLED, reason=DISCHARGED).filter(still_due),
        status=Status.PENDING,
        note="the patient was re-admitted",
        now=now,
        reason="",
        next_attempt_at=now,
        enqueued_at=None,
    )


# The scan ------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    created: int = 0
    skipped: int = 0
    unskipped: int = 0
    expired: int = 0
    requeued: int = 0
    in_window: bool = True
    due_ids: list[int] = field(default_factory=list)
    digest_ids: list[int] = field(default_factory=list)


def _candidate_statuses(today: datetime.date, config: ReminderSettings) -> models.QuerySet[CareStatus]:
    """Care statuses with a due date inside one of the rule's ranges (the indexes do the work)."""
    soon = (today, today + datetime.timedelta(days=config.days_before))
    late_to = today - datetime.timedelta(days=config.days_after)
    late = (late_to - OVERDUE_LOOKBACK, late_to)
    injection = (Q(next_injection_due__range=soon) | Q(next_injection_due__range=late)) & ~Q(phase=NOT_STARTED)
    recheck = Q(next_recheck_due__range=soon) | Q(next_recheck_due__range=late)
    return CareStatus.objects.filter(injection | recheck).select_related("patient")


def _create_due(config: ReminderSettings, now: datetime.datetime, result: ScanResult) -> None:
    today = timezone.localdate(now)
    wanted: dict[tuple[int, str, datetime.date], Patient] = {}
    for status in _candidate_statuses(today, config):
        due = obligations(
            next_injection_due=current_due(status, Kind.INJECTION_DUE_SOON),
            next_recheck_due=status.next_recheck_due,
            today=today,
            days_before=config.days_before,
            days_after=config.days_after,
        )
        for kind, due_date in due:
            wanted[(status.patient_id, kind, due_date)] = status.patient
    if not wanted:
        return
    existing: dict[tuple[int, str, datetime.date], Reminder] = {}
    patient_ids = sorted({key[0] for key in wanted})
    for start in range(0, len(patient_ids), 500):
        rows = Reminder.objects.filter(
            patient_id__in=patient_ids[start : start + 500],
            channel=Reminder.Channel.EMAIL,
            due_date__in={key[2] for key in wanted},
        ).only("pk", "patient_id", "kind", "due_date", "status")
        existing.update({(r.patient_id, r.kind, r.due_date): r for r in rows})

    new: list[Reminder] = []
    unskip: list[int] = []
    for key, patient in wanted.items():
        reason = patient_skip_reason(patient)
        row = existing.get(key)
        if row is None:
            new.append(
                Reminder(
                    patient_id=key[0],
                    kind=key[1],
                    due_date=key[2],
                    status=Status.SKIPPED if reason else Status.PENDING,
                    reason=reason,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif row.status == Status.SKIPPED and not reason:
            unskip.append(row.pk)  # consent given (or an email added) while the reminder still applies
    # ignore_conflicts: a scan running at the same time may have created some of them first.
    Reminder.objects.bulk_create(new, ignore_conflicts=True)
    # Only the rows this scan inserted carry the Message-IDs it generated.
    created = Reminder.objects.filter(message_id__in=[r.message_id for r in new]).values_list("pk", "status", "reason")
    ReminderEvent.objects.bulk_create(
        [
            ReminderEvent(reminder_id=pk, at=now, status=status, note=f"skipped: {reason}" if reason else "created")
            for pk, status, reason in created
        ]
    )
    result.created += sum(status == Status.PENDING for _, status, _ in created)
    result.skipped += sum(status == Status.SKIPPED for _, status, _ in created)
    if unskip:
        moved = _transition(
            Reminder.objects.filter(pk__in=unskip, status=Status.SKIPPED),
            status=Status.PENDING,
            note="the patient may now be emailed",
            now=now,
            reason="",
            next_attempt_at=now,
            enqueued_at=None,
        )
        result.unskipped = len(moved)


def _requeue_stuck(now: datetime.datetime) -> int:
    """Rows left in `sending` by a worker that died: back to pending (at least once beats never)."""
    stuck = _transition(
        Reminder.objects.filter(status=Status.SENDING, claimed_at__lt=now - STUCK_AFTER),
        status=Status.PENDING,
        note=f"requeued: still sending after {STUCK_AFTER}",
        now=now,
        next_attempt_at=now,
        enqueued_at=None,
    )
    StaffDigest.objects.filter(status=Status.SENDING, claimed_at__lt=now - STUCK_AFTER).update(
        status=Status.PENDING, next_attempt_at=now, enqueued_at=None, updated_at=now
    )
    return len(stuck)


def _expire(today: datetime.date, now: datetime.datetime) -> int:
    """'Due soon' reminders whose date passed unsent, and yesterday's unsent digests, are moot."""
    expired = _transition(
        Reminder.objects.filter(status=Status.PENDING, kind__in=DUE_SOON_KINDS, due_date__lt=today),
        status=Status.CANCELLED,
        note="the due date passed before it could be sent",
        now=now,
        reason="expired",
    )
    StaffDigest.objects.filter(status=Status.PENDING, date__lt=today).update(
        status=Status.CANCELLED, last_error="expired: a digest is only useful on its day", updated_at=now
    )
    return len(expired)


def ready(model: type[OutboxMessage], now: datetime.datetime) -> models.QuerySet[OutboxMessage]:
    """Pending rows whose time has come and that no task was handed out for (recently)."""
    return model.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - STUCK_AFTER)
    )


def reminders_scan(*, now: datetime.datetime, enqueue: bool = True) -> ScanResult:
    """One pass of the beat: create what is due, repair what is stuck, queue what is ready.

    Rows are created and queued only inside the clinic's send window (local time); outside it the
    scan only tidies up. With `enqueue`, tasks go to the broker after commit; a broker that is down
    loses nothing (the rows stay pending and the next scan queues them again)."""
    config = ReminderSettings.load()
    local = timezone.localtime(now)
    result = ScanResult(in_window=config.in_window(local))
    with transaction.atomic():
        result.requeued = _requeue_stuck(now)
        result.expired = _expire(local.date(), now)
        if config.enabled and result.in_window:
            _create_due(config, now, result)
        if result.in_window:
            result.due_ids = list(ready(Reminder, now).order_by("pk").values_list("pk", flat=True))
        digests = ready(StaffDigest, now).filter(date=local.date())
        result.digest_ids = list(digests.order_by("pk").values_list("pk", flat=True))
        if enqueue:
            enqueue_on_commit(Reminder, result.due_ids, "reminders.tasks.send_reminder", now)
            enqueue_on_commit(StaffDigest, result.digest_ids, "reminders.tasks.send_staff_digest", now)
    return result


def enqueue_on_commit(model: type[OutboxMessage], ids: Sequence[int], task_name: str, now: datetime.datetime) -> None:
    """Mark the rows handed out and, after commit, publish one task per row (only its id)."""
    if not ids:
        return
    model.objects.filter(pk__in=ids).update(enqueued_at=now)
    transaction.on_commit(partial(_publish, model, list(ids), task_name))


def _publish(model: type[OutboxMessage], ids: list[int], task_name: str) -> None:
    for position, pk in enumerate(ids):
        try:
            current_app.send_task(task_name, args=[pk])
        except Exception:  # the broker is down: the rest would fail the same way
            unsent = ids[position:]
            logger.exception(
                "Could not queue %s %s; they stay pending and the next scan queues them.", len(unsent), task_name
            )
            model.objects.filter(pk__in=unsent, status=Status.PENDING).update(enqueued_at=None)
            return


# Sending -------------------------------------------------------------------------------------------


def claim(model: type[OutboxMessage], pk: int, now: datetime.datetime) -> bool:
    """pending -> sending in one conditional UPDATE, committed before anything is sent (a rival's
    UPDATE waits for the row lock, then finds it no longer pending); True only for the one caller
    that changed the row."""
    return (
        model.objects.filter(pk=pk, status=Status.PENDING, next_attempt_at__lte=now).update(
            status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now
        )
        == 1
    )


@dataclass(frozen=True)
class Outcome:
    status: str  # sent, retry, failed, cancelled, skipped, not_claimed, outside_window
    error: str = ""


def deliver(
    row: OutboxMessage,
    build: Callable[[], EmailMultiAlternatives],
    now: datetime.datetime,
    record: Callable[[str, str], None],
) -> Outcome:
    """Build and send the message of `row` (already claimed) and store the result on it, with its
    history (`record(status, note)`), in one transaction. A message that cannot be built fails like
    a 5xx."""
    try:
        emails.send(build())
    except Exception as error:
        text = describe(error)
        row.last_error = text
        row.updated_at = now
        if is_temporary(error) and row.attempts < MAX_ATTEMPTS:
            row.status = Status.PENDING
            row.next_attempt_at = now + backoff(row.attempts)
            row.enqueued_at = None
            with transaction.atomic():
                row.save(update_fields=["status", "last_error", "next_attempt_at", "enqueued_at", "updated_at"])
                record(Status.PENDING, f"temporary error, retry after {row.next_attempt_at:%H:%M}: {text}")
            logger.warning("%s %s: temporary send error, will retry: %s", type(row).__name__, row.pk, text)
            return Outcome("retry", text)
        row.status = Status.FAILED
        with transaction.atomic():
            row.save(update_fields=["status", "last_error", "updated_at"])
            record(Status.FAILED, text)
        logger.error("%s %s: send failed for good: %s", type(row).__name__, row.pk, text)
        return Outcome("failed", text)
    row.status = Status.SENT
    row.sent_at = row.updated_at = now
    row.last_error = ""
    with transaction.atomic():
        row.save(update_fields=["status", "sent_at", "last_error", "updated_at"])
        record(Status.SENT, "")
    return Outcome("sent")


@transaction.atomic
def _finish(reminder: Reminder, status: str, reason: str, now: datetime.datetime) -> Outcome:
    reminder.status = status
    reminder.reason = reason[:200]
    reminder.updated_at = now
    reminder.save(update_fields=["status", "reason", "updated_at"])
    _events([reminder.pk], status, reason, now)
    return Outcome(status)


def reminder_send(*, reminder_id: int, now: datetime.datetime) -> Outcome:
    """Send one reminder at most once: claim, re-check, send, record. Safe to call any number of times."""
    if not ReminderSettings.load().in_window(timezone.localtime(now)):
        return Outcome("outside_window")  # the next scan inside the window queues it again
    with transaction.atomic():  # the claim commits with its history event
        if not claim(Reminder, reminder_id, now):
            return Outcome("not_claimed")
        reminder = Reminder.objects.select_related("patient").get(pk=reminder_id)
        _events([reminder.pk], Status.SENDING, f"attempt {reminder.attempts}", now)
    if reason := patient_skip_reason(reminder.patient):
        return _finish(reminder, Status.SKIPPED, reason, now)
    if reason := _obsolete_reason(reminder, timezone.localdate(now)):
        return _finish(reminder, Status.CANCELLED, reason, now)
    return deliver(
        reminder,
        partial(emails.reminder_email, reminder),
        now,
        lambda status, note: _events([reminder.pk], status, note, now),
    )


@transaction.atomic
def reminder_retry(*, reminder: Reminder, by: AbstractBaseUser, now: datetime.datetime) -> bool:
    """Staff: send a failed reminder again (after fixing the address, say)."""
    moved = _transition(
        Reminder.objects.filter(pk=reminder.pk, status=Status.FAILED),
        status=Status.PENDING,
        note=f"sent again by {by}",
        now=now,
        next_attempt_at=now,
        enqueued_at=None,
        attempts=0,
    )
    return bool(moved)


# Opting out ----------------------------------------------------------------------------------------


@transaction.atomic
def patient_unsubscribe(*, patient: Patient, now: datetime.datetime) -> bool:
    """Opt the patient out (audited in the patient's history); False when they already were."""
    if patient.email_opt_out_at is not None and not patient.email_reminders_consent:
        return False
    record.patient_set_email_consent(patient=patient, consent=False, now=now, reason=OPT_OUT_REASON)
    _transition(
        Reminder.objects.filter(patient=patient, status=Status.PENDING),
        status=Status.SKIPPED,
        note="opted out",
        now=now,
        reason="opted out",
    )
    return True
