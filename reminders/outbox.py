"""The reminder outbox: every write to the reminder rows.

The database is the source of truth, the broker only a doorbell:
- `reminders_scan` (beat, every 5 minutes) creates the rows the clinic's rules call for, at most one
  per (patient, kind, due date, channel), and rings the doorbell after commit: one batch task per
  SEND_BATCH_SIZE pending rows. A lost message, a broker that was down or a worker that died mid-batch
  are all repaired by a later scan, because it looks at the rows, not at the queue.
- `reminders_send` (the batch task; `reminder_send` is a batch of one) claims its rows with one
  conditional update and sends only those it won, so a message delivered twice or two workers racing
  send one email. It re-checks that each obligation still stands, sends over one SMTP session, and
  records the results: temporary SMTP errors go back to pending with a backoff, permanent ones end
  failed. The claim, send and record are reminders.sending, shared by every outbox model.
- `reminders_cancel_obsolete` runs in the transaction of every clinical write (the application
  layer, clinic.actions, calls it after the care status refresh): the injection or lab recorded
  cancels what no longer applies.
Time is passed in (`now`); the clinic's calendar day is `timezone.localdate(now)`. The rules are
reminders.rules, the message reminders.emails, the staff digest reminders.digest.
"""

from __future__ import annotations

import datetime
import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from care.models import CareStatus
from outreach.models import Appointment, AppointmentStatus
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
    OVERDUE_LOOKBACK,
    current_due,
    obligations,
    patient_skip_reason,
)
from reminders.sending import (  # noqa: F401 (claim, deliver, with_database_retry, UNCONFIRMED: reachable here as before)
    UNCONFIRMED,
    Outbound,
    Outcome,
    claim,
    deliver,
    enqueue_batches_on_commit,
    recover_abandoned,
    register,
    send_batch,
    stuck_after,
    unconfirmed_after,
    unconfirmed_note,
    with_database_retry,
)

logger = logging.getLogger(__name__)

OPT_OUT_REASON = "Opted out of email reminders with the link in a reminder."


def _obsolete_reason(reminder: Reminder, status: CareStatus | None, today: datetime.date) -> str:
    if reminder.appointment_id is not None:
        return ""  # a notice names its own version of an appointment; a newer one cancels it when queued
    if current_due(status, reminder.kind) != reminder.due_date:
        return "no longer due: the visit was recorded or the due date changed"
    if reminder.kind in DUE_SOON_KINDS and today > reminder.due_date:
        return "the due date passed before it could be sent"
    return ""


# Events and transitions --------------------------------------------------------------------------


def _events(reminder_ids: Iterable[int], status: str, note: str, now: datetime.datetime) -> None:
    """One event each, in the ids' order. On PostgreSQL one INSERT from the array of ids: the send batch
    writes two a reminder (sending, sent), some 50 µs an email as bulk_create's model instances, 5 so."""
    ids = list(reminder_ids)
    if not ids:
        return
    if connection.vendor != "postgresql":
        ReminderEvent.objects.bulk_create(
            [ReminderEvent(reminder_id=pk, at=now, status=status, note=note) for pk in ids]
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(_events_sql(), [now, status, note, ids])


@functools.cache
def _events_sql() -> str:
    quote = connection.ops.quote_name
    meta = ReminderEvent._meta
    columns = ", ".join(quote(meta.get_field(name).column) for name in ("reminder", "at", "status", "note"))
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT id, %s, %s, %s "
        "FROM unnest(%s::bigint[]) WITH ORDINALITY AS ids(id, n) ORDER BY n"
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
    recorded: int = 0  # left `sending` by a stopped batch after the server accepted them: recorded as sent
    released: int = 0  # left `sending` by a stopped batch, never handed over: pending again
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
        recovered = recover_abandoned(now)  # first: it leaves each batch's one possibly in flight alone
        result.recorded, result.released = recovered.recorded, recovered.released
        result.requeued = _requeue_stuck(now)
        result.expired = _expire(local.date(), now)
        if config.enabled and result.in_window:
            _create_due(config, now, result)
        if result.in_window:
            outgoing = ready(Reminder, now).filter(channel=Channel.EMAIL)  # letters wait for staff to print them
            result.due_ids = list(outgoing.order_by("pk").values_list("pk", flat=True))
        digests = ready(StaffDigest, now).filter(date=local.date())
        result.digest_ids = list(digests.order_by("pk").values_list("pk", flat=True))
        if enqueue:  # batches of SEND_BATCH_SIZE ids, published after commit
            enqueue_batches_on_commit(Reminder, result.due_ids, now)
            enqueue_batches_on_commit(StaffDigest, result.digest_ids, now)
    return result


# Sending: the reminders' part of the batch path (reminders.sending) ---------------------------------


def _reminder_history(entries: Sequence[tuple[int, str, str]], now: datetime.datetime) -> None:
    groups: dict[tuple[str, str], list[int]] = {}
    for pk, status, note in entries:
        groups.setdefault((status, note), []).append(pk)
    for (status, note), ids in groups.items():
        _events(ids, status, note, now)


def _reminder_rows(ids: Sequence[int]) -> models.QuerySet[Reminder]:
    """The claimed rows with what their emails name: the patient, the clinic (its letterhead and time
    zone), a notice's appointment, and each patient's booked appointments (emails.booked_appointment),
    so that a batch costs the same few queries whatever its size."""
    booked = Appointment.objects.filter(status=AppointmentStatus.BOOKED).order_by("starts_at", "pk")
    return (
        Reminder.objects.select_related("patient__clinic", "appointment")
        .prefetch_related(models.Prefetch("patient__appointments", queryset=booked, to_attr="booked_appointments"))
        .filter(pk__in=ids)
    )


def _reminder_stops(rows: Sequence[Reminder], now: datetime.datetime) -> dict[int, tuple[str, str]]:
    """Claimed reminders that must not go: the patient may not be emailed (skipped), or the care status
    no longer calls for it (cancelled). One query for the care statuses of the batch."""
    today = timezone.localdate(now)
    fields = ("patient_id", "phase", "next_injection_due", "next_recheck_due")
    statuses = {
        s.patient_id: s for s in CareStatus.objects.filter(patient_id__in={r.patient_id for r in rows}).only(*fields)
    }
    stops: dict[int, tuple[str, str]] = {}
    for reminder in rows:
        if reason := patient_skip_reason(reminder.patient):
            stops[reminder.pk] = (Status.SKIPPED, reason)
        elif reason := _obsolete_reason(reminder, statuses.get(reminder.patient_id), today):
            stops[reminder.pk] = (Status.CANCELLED, reason)
    return stops


REMINDERS = register(
    Outbound(
        model=Reminder,
        build=lambda reminder, now: emails.reminder_email(reminder),
        load=_reminder_rows,
        stops=_reminder_stops,
        history=_reminder_history,
        reason_field="reason",
        send_window=True,
    )
)


def reminders_send(*, reminder_ids: Sequence[int], now: datetime.datetime) -> dict[int, Outcome]:
    """Send a batch of reminders (one SMTP session): each at most once per claim, the outcome of each."""
    return send_batch(REMINDERS, reminder_ids, now)


def reminder_send(*, reminder_id: int, now: datetime.datetime) -> Outcome:
    """Send one reminder at most once per claim (a batch of one). Safe to call any number of times."""
    return send_batch(REMINDERS, [reminder_id], now)[reminder_id]


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
