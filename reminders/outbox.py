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
import smtplib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError, connection, models, transaction
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
    Channel,
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
    if reminder.appointment_id is not None:
        return ""  # a notice names its own version of an appointment; a newer one cancels it when queued
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


def stuck_after() -> datetime.timedelta:
    """A row queued this long and not taken lost its message (with the broker): queue it again."""
    return datetime.timedelta(seconds=settings.REMINDER_STUCK_AFTER)


def unconfirmed_after() -> datetime.timedelta:
    """A row in `sending` this long was handed to the SMTP server and never recorded: send it again."""
    return datetime.timedelta(seconds=settings.REMINDER_UNCONFIRMED_AFTER)


def clock(instant: datetime.datetime) -> str:
    """A time of day as staff read it: clinic time (BST in summer, GMT in winter)."""
    return f"{timezone.localtime(instant):%H:%M}"


def unconfirmed_note(claimed_at: datetime.datetime) -> str:
    return (
        f"{UNCONFIRMED}: handed to the SMTP server at {clock(claimed_at)} and never recorded as sent "
        "(the worker or its database was lost); it may already have been delivered, so sending it "
        "again may give the patient a second copy"
    )


# Every row re-sent after the longer wait has an event (and, until sent, a last error) starting so:
# the operator's search for "sent, not recorded" rows (README, Reminders in production).
UNCONFIRMED = "sent, not recorded"


def _requeue_stuck(now: datetime.datetime) -> int:
    """Rows left in `sending` past the longer wait: handed to SMTP, the result never recorded (a worker
    killed, or its database lost for longer than the record retry). Back to pending, each with an event
    saying that the email may already have gone: at least once beats never."""
    cutoff = now - unconfirmed_after()
    with transaction.atomic():
        stuck = list(
            Reminder.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff)
            .select_for_update()
            .values_list("pk", "claimed_at")
        )
        for pk, claimed_at in stuck:
            note = unconfirmed_note(claimed_at)
            Reminder.objects.filter(pk=pk).update(
                status=Status.PENDING, next_attempt_at=now, enqueued_at=None, last_error=note, updated_at=now
            )
            _events([pk], Status.PENDING, f"requeued, {note}", now)
        for pk, claimed_at in StaffDigest.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff).values_list(
            "pk", "claimed_at"
        ):
            StaffDigest.objects.filter(pk=pk, status=Status.SENDING).update(
                status=Status.PENDING,
                next_attempt_at=now,
                enqueued_at=None,
                last_error=unconfirmed_note(claimed_at),
                updated_at=now,
            )
    if stuck:
        logger.error(
            "%s reminder(s) requeued after %s in sending: handed to SMTP and never recorded, may be sent twice: %s",
            len(stuck),
            unconfirmed_after(),
            [pk for pk, _ in stuck],
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
    """Pending rows whose time has come and that no task was handed out for (within REMINDER_STUCK_AFTER:
    a message taken is claimed at once, so one still pending after that was lost with the broker)."""
    return model.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - stuck_after())
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
            outgoing = ready(Reminder, now).filter(channel=Channel.EMAIL)  # letters wait for staff to print them
            result.due_ids = list(outgoing.order_by("pk").values_list("pk", flat=True))
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
    # sent, retry, failed, cancelled, skipped, not_claimed, outside_window; released (a database error
    # before the message reached SMTP: pending again at once); unrecorded (sent, the result not stored)
    status: str
    error: str = ""


_DATABASE_DOWN = (OperationalError, InterfaceError)


def _reconnect() -> None:
    """Drop this thread's broken database connection; the next query opens a new one (not inside an
    outer transaction, which only its owner may end)."""
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except Exception:  # closing a connection the server cut may fail; it is dropped either way
        pass


T = TypeVar("T")


def with_database_retry(write: Callable[[], T], *, what: str) -> T:
    """`write()` (one transaction), retried while the database is unreachable: reconnect, wait 0.1, 0.2,
    0.4 ... at most 2 s apart, for REMINDER_RECORD_RETRY_SECONDS; then the last error is raised."""
    deadline = time.monotonic() + settings.REMINDER_RECORD_RETRY_SECONDS
    delay = 0.1
    while True:
        try:
            return write()
        except _DATABASE_DOWN as error:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("%s: database unreachable, retrying in %.1f s: %s", what, delay, error)
            _reconnect()
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def release(
    model: type[OutboxMessage], pk: int, *, claimed_at: datetime.datetime, now: datetime.datetime, error: BaseException
) -> Outcome:
    """Nothing reached the SMTP server (the database failed before): the row is pending again at once,
    its attempt counted, for the next scan to queue; no waiting for the stuck-row requeue.

    The claim may or may not have committed (a connection cut during COMMIT): either way the row is
    this claim's `sending` or still `pending`, and both are released."""
    text = f"not sent, released: {describe(error)}"[:2000]
    logger.warning("%s %s: %s", model.__name__, pk, text)

    def write() -> int:
        with transaction.atomic():
            moved = model.objects.filter(pk=pk, status=Status.SENDING, claimed_at=claimed_at).update(
                status=Status.PENDING, next_attempt_at=now, enqueued_at=None, last_error=text, updated_at=now
            )
            if not moved:  # the claim was rolled back: count the attempt all the same
                moved = model.objects.filter(pk=pk, status=Status.PENDING).update(
                    attempts=F("attempts") + 1, enqueued_at=None, last_error=text, updated_at=now
                )
            if moved and model is Reminder:
                _events([pk], Status.PENDING, text, now)
            return moved

    try:
        with_database_retry(write, what=f"{model.__name__} {pk}: release")
    except _DATABASE_DOWN:
        logger.error(
            "%s %s: could not release it (database unreachable); a later scan queues it again", model.__name__, pk
        )
    return Outcome("released", text)


def _store(
    row: OutboxMessage,
    now: datetime.datetime,
    record: Callable[[str, str], None],
    *,
    status: str,
    note: str,
    **values: object,
) -> bool:
    """Store the result of this claim's attempt on the row, with its history, in one transaction that
    is retried while the database is unreachable. The same conditional update each time (this claim's
    row, still `sending`; or `pending` when the requeue took it back meanwhile and nobody claimed it
    again, for "sent"), so a retry after a COMMIT that did happen changes nothing. False when another
    claim owns the row now."""
    model = type(row)
    claimed_at = row.claimed_at
    from_statuses = [Status.SENDING, Status.PENDING] if status == Status.SENT else [Status.SENDING]

    def write() -> bool:
        with transaction.atomic():
            mine = model.objects.filter(pk=row.pk, claimed_at=claimed_at, status__in=from_statuses)
            if mine.update(status=status, updated_at=now, **values):
                record(status, note)
                return True
            return model.objects.filter(pk=row.pk, claimed_at=claimed_at, status=status).exists()

    stored = with_database_retry(write, what=f"{model.__name__} {row.pk}: record {status}")
    row.status, row.updated_at = status, now
    for name, value in values.items():
        setattr(row, name, value)
    return stored


def deliver(
    row: OutboxMessage,
    build: Callable[[], EmailMultiAlternatives],
    now: datetime.datetime,
    record: Callable[[str, str], None],
) -> Outcome:
    """Build and send the message of `row` (already claimed, at `now`) once, and store the result on it,
    with its history (`record(status, note)`).

    A message that cannot be built fails like a 5xx, unless the database failed (released, pending
    again). A send error is temporary (pending, with a backoff) or permanent (failed). After the server
    accepted the message, storing "sent" is retried for REMINDER_RECORD_RETRY_SECONDS; only if that
    fails is "sent, not recorded" logged, and the row, left in `sending`, is sent again after
    REMINDER_UNCONFIRMED_AFTER."""
    name = f"{type(row).__name__} {row.pk}"
    try:
        message = build()
        emails.send(message)
    except _DATABASE_DOWN as error:  # while building: nothing was handed to SMTP
        return release(type(row), row.pk, claimed_at=row.claimed_at, now=now, error=error)
    except Exception as error:
        text = describe(error)
        if is_temporary(error) and row.attempts < MAX_ATTEMPTS:
            retry_at = now + backoff(row.attempts)
            doubt = " (the connection was lost mid-send: the server may have it)" if _mid_send(error) else ""
            result, status = Outcome("retry", text), Status.PENDING
            note = f"temporary error{doubt}, retry after {clock(retry_at)}: {text}"
            values: dict[str, object] = {"next_attempt_at": retry_at, "enqueued_at": None}
            logger.warning("%s: temporary send error, will retry: %s", name, text)
        else:
            result, status, note, values = Outcome("failed", text), Status.FAILED, text, {}
            logger.error("%s: send failed for good: %s", name, text)
        try:
            _store(row, now, record, status=status, note=note, last_error=text, **values)
        except _DATABASE_DOWN as lost:
            logger.error(
                "%s: the send error could not be recorded (%s); the row stays 'sending' and is sent again after %s",
                name,
                describe(lost),
                unconfirmed_after(),
            )
            return Outcome("unrecorded", text)
        return result
    try:
        stored = _store(row, now, record, status=Status.SENT, note="", sent_at=now, last_error="")
    except BaseException as error:  # the database stayed away (or the task was stopped) after the server took it
        logger.error(
            "%s: %s: Message-ID %s was accepted by the SMTP server at %s but could not be recorded (%s); "
            "the row stays 'sending' and is sent again after %s",
            name,
            UNCONFIRMED,
            row.message_id,
            clock(now),
            describe(error),
            unconfirmed_after(),
        )
        if isinstance(error, _DATABASE_DOWN):
            return Outcome("unrecorded", describe(error))
        raise
    if not stored:
        logger.warning("%s: sent, but another claim owns the row now; a second copy may go", name)
    return Outcome("sent")


def _mid_send(error: BaseException) -> bool:
    return isinstance(error, smtplib.SMTPServerDisconnected | ConnectionError)


def _finish(reminder: Reminder, status: str, reason: str, now: datetime.datetime) -> Outcome:
    reminder.status = status
    reminder.reason = reason[:200]
    reminder.updated_at = now
    reminder.save(update_fields=["status", "reason", "updated_at"])
    _events([reminder.pk], status, reason, now)
    return Outcome(status)


def reminder_send(*, reminder_id: int, now: datetime.datetime) -> Outcome:
    """Send one reminder at most once per claim: claim, re-check, send, record. Safe to call any number
    of times. The claim and the re-check are one transaction, so a committed `sending` row is one about
    to be handed to the SMTP server; a database error before that releases the row at once."""
    try:
        if not ReminderSettings.load().in_window(timezone.localtime(now)):
            return Outcome("outside_window")  # the next scan inside the window queues it again
        with transaction.atomic():
            if not claim(Reminder, reminder_id, now):
                return Outcome("not_claimed")
            reminder = Reminder.objects.select_related("patient").get(pk=reminder_id)
            _events([reminder.pk], Status.SENDING, f"attempt {reminder.attempts}", now)
            if reason := patient_skip_reason(reminder.patient):
                return _finish(reminder, Status.SKIPPED, reason, now)
            if reason := _obsolete_reason(reminder, timezone.localdate(now)):
                return _finish(reminder, Status.CANCELLED, reason, now)
    except _DATABASE_DOWN as error:
        return release(Reminder, reminder_id, claimed_at=now, now=now, error=error)
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
        Reminder.objects.filter(patient=patient, status=Status.PENDING, channel=Channel.EMAIL),  # letters still go
        status=Status.SKIPPED,
        note="opted out",
        now=now,
        reason="opted out",
    )
    return True
