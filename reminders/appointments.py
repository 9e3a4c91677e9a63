"""Messages about a booked appointment: the patient's email naming its date and time in the clinic's
time zone, with an iCalendar (.ics) invitation; an update when it is rescheduled, a cancellation when
it is cancelled; a printed letter for a patient who may not be emailed.

The application layer (clinic.actions) calls `appointment_notice_queue` inside the transaction that
booked, rescheduled or cancelled the appointment (after raising its `sequence` for a reschedule or a
cancellation). Each notice is a `Reminder` row of the outbox with the appointment and its sequence,
unique per (appointment, sequence, channel), so a second call or a retried transaction queues nothing
more; the email rows are sent by the same claim and delivery as the reminders (reminders.outbox),
the letter rows printed with the day's letters (reminders.letters). A notice still waiting when the
appointment changes again is cancelled: the newer one replaces it (same UID, higher SEQUENCE).
"""

from __future__ import annotations

import datetime
from typing import Literal

from django.db import transaction
from django.utils import timezone

from outreach.models import Appointment
from reminders import outbox
from reminders.models import Channel, Kind, Reminder, ReminderEvent, ReminderSettings, Status
from reminders.rules import patient_skip_reason

Change = Literal["booked", "rescheduled", "cancelled"]

KINDS: dict[str, str] = {
    "booked": Kind.APPOINTMENT_BOOKED,
    "rescheduled": Kind.APPOINTMENT_RESCHEDULED,
    "cancelled": Kind.APPOINTMENT_CANCELLED,
}
# Why the email is skipped, for which a letter goes instead (not "discharged": nothing goes then).
LETTER_REASONS = frozenset({"opted out", "no consent to email reminders", "no email address"})
SUPERSEDED = "superseded: the appointment changed again before this was sent"


def _cancel_superseded(appointment: Appointment, channel: str, sequence: int, now: datetime.datetime) -> int:
    """Cancel this appointment's notices on `channel` for an earlier version that are still waiting."""
    ids = list(
        Reminder.objects.filter(appointment=appointment, channel=channel, status=Status.PENDING, sequence__lt=sequence)
        .select_for_update()
        .values_list("pk", flat=True)
    )
    if ids:
        Reminder.objects.filter(pk__in=ids).update(status=Status.CANCELLED, reason="superseded", updated_at=now)
        ReminderEvent.objects.bulk_create(
            ReminderEvent(reminder_id=pk, at=now, status=Status.CANCELLED, note=SUPERSEDED) for pk in ids
        )
    return len(ids)


def _notice_kind(appointment: Appointment, channel: str, change: Change) -> str | None:
    """What to tell on `channel`: a move the patient was never told of the first time is told as a
    booking; a cancellation of an appointment they were never told of is not told at all (None)."""
    # One being sent right now counts: it may have reached the patient already.
    told = Reminder.objects.filter(
        appointment=appointment, channel=channel, status__in=[Status.SENT, Status.SENDING]
    ).exists()
    if change == "cancelled":
        return KINDS[change] if told else None
    if change == "rescheduled" and not told:
        return Kind.APPOINTMENT_BOOKED
    return KINDS[change]


def appointment_notice_queue(
    *, appointment: Appointment, change: Change, now: datetime.datetime, enqueue: bool = True
) -> list[int]:
    """Queue the patient's notice of `change` to `appointment` (inside the caller's transaction); the
    ids of the rows this call created (none when this version was queued already).

    A patient who may be emailed gets an email (queued after commit, inside the send window; else the
    next scan in the window sends it); one who may not gets a skipped email row with the reason and,
    unless discharged, a letter for the day's batch. Nothing when the clinic turned reminders off."""
    if change not in KINDS:
        raise ValueError(f"change must be one of {sorted(KINDS)}, not {change!r}")
    config = ReminderSettings.load()
    if not config.enabled:
        return []
    patient = appointment.patient
    reason = patient_skip_reason(patient)
    channels = [Channel.EMAIL] if not reason else [Channel.EMAIL, Channel.LETTER]
    if reason and reason not in LETTER_REASONS:
        channels = [Channel.EMAIL]  # recorded as skipped, nothing sent
    day = appointment.starts_at.astimezone(patient.clinic.zone).date()
    created: list[Reminder] = []
    with transaction.atomic():
        for channel in channels:
            _cancel_superseded(appointment, channel, appointment.sequence, now)
            kind = _notice_kind(appointment, channel, change)
            if kind is None:
                continue
            skipped = channel == Channel.EMAIL and bool(reason)
            created.append(
                Reminder(
                    patient=patient,
                    kind=kind,
                    due_date=day,
                    channel=channel,
                    appointment=appointment,
                    sequence=appointment.sequence,
                    visit_at=appointment.starts_at,
                    status=Status.SKIPPED if skipped else Status.PENDING,
                    reason=reason if skipped else "",
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        # ignore_conflicts: this version was queued already (a second call, a retried transaction).
        Reminder.objects.bulk_create(created, ignore_conflicts=True)
        rows = list(
            Reminder.objects.filter(message_id__in=[r.message_id for r in created]).values_list(
                "pk", "channel", "status", "reason"
            )
        )
        ReminderEvent.objects.bulk_create(
            ReminderEvent(
                reminder_id=pk,
                at=now,
                status=status,
                note=f"skipped: {why}" if why else f"{change} (version {appointment.sequence})",
            )
            for pk, _, status, why in rows
        )
        emails = [pk for pk, channel, status, _ in rows if channel == Channel.EMAIL and status == Status.PENDING]
        if enqueue and emails and config.in_window(timezone.localtime(now)):
            outbox.enqueue_batches_on_commit(Reminder, emails, now)  # the batch task, as the scan does
    return [pk for pk, *_ in rows]
