"""The writes of the outreach tables: contact attempts, appointments (book, reschedule, cancel, attend,
miss) and the clinic's daily capacity. Nothing else: the application layer (clinic.actions) calls these
inside its transaction and adds what other floors must do (the patient's notice of an appointment,
the discharge a "moved away" leads to).

Refused input raises ValidationError({argument: message}), "__all__" for the appointment's or the
patient's state; a user whose role does not allow the write gets PermissionDenied.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Clinic
from outreach import rules
from outreach.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    ClinicCapacity,
    ContactAttempt,
    ContactOutcome,
)
from patients.models import Patient

ADD_CONTACT_ATTEMPT = "outreach.add_contactattempt"
ADD_APPOINTMENT = "outreach.add_appointment"
CHANGE_APPOINTMENT = "outreach.change_appointment"
CHANGE_CAPACITY = "outreach.change_cliniccapacity"

NOTE_MAX = 1000
OUTCOME_REQUIRED = "Choose what came of the call."
NEXT_ATTEMPT_PAST = "The next attempt must be after today."
NOTE_TOO_LONG = f"Keep the note under {NOTE_MAX} characters."
DISCHARGED = "{name} was discharged: re-admit the patient first."
KIND_INVALID = "Choose an injection or a blood test."
START_REQUIRED = "Give the date and time of the appointment."
START_PAST = "The appointment must be in the future."
ALREADY_BOOKED = "{name} already has a {kind} booked on {when}: reschedule it instead."
NOT_BOOKED = "This appointment is {status}: only a booked one can be changed."
REASON_REQUIRED = "Say why: the reason is kept with the appointment."
SAME_TIME = "That is the time already booked: choose another."
CAPACITY_INVALID = "Give a number of appointments from 0 (closed) to 500."

MISSED_REASON = "The day passed without the visit."


def _require(by: AbstractBaseUser, permission: str) -> None:
    if not by.has_perm(permission):
        raise PermissionDenied("Your role does not allow this.")


def _require_active(patient: Patient) -> None:
    if not patient.is_active:
        raise ValidationError({NON_FIELD_ERRORS: DISCHARGED.format(name=patient.full_name)})


def local_day(moment: datetime.datetime, clinic: Clinic) -> datetime.date:
    """The day `moment` falls on at the clinic (its time zone, not the server's)."""
    return moment.astimezone(clinic.zone).date()


def local_midnight(day: datetime.date, clinic: Clinic) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0, 0), tzinfo=clinic.zone)


# Contact attempts ------------------------------------------------------------------------------------


def contact_attempt_record(
    *,
    patient: Patient,
    outcome: str,
    by: AbstractBaseUser,
    now: datetime.datetime,
    note: str = "",
    next_attempt_on: datetime.date | None = None,
) -> ContactAttempt:
    """One call to the patient and what came of it (ContactOutcome), with an optional note and the day
    to try again (after today at the clinic)."""
    _require(by, ADD_CONTACT_ATTEMPT)
    _require_active(patient)
    errors: dict[str, str] = {}
    if outcome not in ContactOutcome.values:
        errors["outcome"] = OUTCOME_REQUIRED
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        errors["note"] = NOTE_TOO_LONG
    if next_attempt_on is not None and next_attempt_on <= local_day(now, patient.clinic):
        errors["next_attempt_on"] = NEXT_ATTEMPT_PAST
    if errors:
        raise ValidationError(errors)
    return ContactAttempt.objects.create(
        patient=patient, at=now, by=by, outcome=outcome, note=text, next_attempt_on=next_attempt_on
    )


# Appointments --------------------------------------------------------------------------------------


def _check_start(starts_at: datetime.datetime | None, now: datetime.datetime) -> datetime.datetime:
    if starts_at is None:
        raise ValidationError({"starts_at": START_REQUIRED})
    if timezone.is_naive(starts_at):
        raise ValueError("starts_at must be an aware datetime (the clinic's local time).")
    if starts_at <= now:
        raise ValidationError({"starts_at": START_PAST})
    return starts_at


def _when(appointment: Appointment) -> str:
    local = appointment.starts_at.astimezone(appointment.patient.clinic.zone)
    return f"{local.day} {local:%b %Y at %H:%M}"


def appointment_book(
    *,
    patient: Patient,
    kind: str,
    starts_at: datetime.datetime | None,
    by: AbstractBaseUser,
    now: datetime.datetime,
) -> Appointment:
    """Book the patient's next injection or recheck (one booked appointment per kind at a time)."""
    _require(by, ADD_APPOINTMENT)
    _require_active(patient)
    if kind not in AppointmentKind.values:
        raise ValidationError({"kind": KIND_INVALID})
    start = _check_start(starts_at, now)
    # Lock the patient's row: two people booking the same patient at once queue here.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    existing = Appointment.objects.filter(patient=patient, kind=kind, status=AppointmentStatus.BOOKED).first()
    if existing is not None:
        label = AppointmentKind(kind).label.lower()
        raise ValidationError(
            {NON_FIELD_ERRORS: ALREADY_BOOKED.format(name=patient.full_name, kind=label, when=_when(existing))}
        )
    return Appointment.objects.create(
        patient=patient, kind=kind, starts_at=start, booked_by=by, booked_at=now, updated_at=now
    )


def _locked_booked(appointment: Appointment) -> Appointment:
    locked = Appointment.objects.select_for_update().select_related("patient__clinic").get(pk=appointment.pk)
    if locked.status != AppointmentStatus.BOOKED:
        raise ValidationError({NON_FIELD_ERRORS: NOT_BOOKED.format(status=locked.get_status_display().lower())})
    return locked


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationError({"reason": REASON_REQUIRED})
    return text


def appointment_reschedule(
    *,
    appointment: Appointment,
    starts_at: datetime.datetime | None,
    reason: str,
    by: AbstractBaseUser,
    now: datetime.datetime,
) -> Appointment:
    """Move a booked appointment, with why; its invitation's SEQUENCE rises, so the patient's calendar
    replaces the event."""
    _require(by, CHANGE_APPOINTMENT)
    errors: dict[str, list[str]] = {}
    for check in (lambda: _check_start(starts_at, now), lambda: _reason(reason)):
        try:
            check()
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    locked = _locked_booked(appointment)
    if locked.starts_at == starts_at:
        raise ValidationError({"starts_at": SAME_TIME})
    locked.starts_at = starts_at
    locked.status_reason = reason.strip()
    locked.sequence += 1
    locked.updated_at = now
    locked.save(update_fields=["starts_at", "status_reason", "sequence", "updated_at"])
    appointment.__dict__.update(
        {k: getattr(locked, k) for k in ("starts_at", "status_reason", "sequence", "updated_at")}
    )
    return locked


def appointment_cancel(
    *, appointment: Appointment, reason: str, by: AbstractBaseUser | None, now: datetime.datetime
) -> Appointment:
    """Cancel a booked appointment, with why (SEQUENCE rises with the cancellation too). `by` None: the
    system cancels it (the patient was discharged)."""
    if by is not None:
        _require(by, CHANGE_APPOINTMENT)
    text = _reason(reason)
    locked = _locked_booked(appointment)
    locked.status = AppointmentStatus.CANCELLED
    locked.status_reason = text
    locked.sequence += 1
    locked.updated_at = now
    locked.save(update_fields=["status", "status_reason", "sequence", "updated_at"])
    appointment.__dict__.update({k: getattr(locked, k) for k in ("status", "status_reason", "sequence", "updated_at")})
    return locked


def appointments_attend(
    *, patient: Patient, kind: str, visit_at: datetime.datetime | datetime.date, now: datetime.datetime
) -> list[Appointment]:
    """Mark attended the patient's booked appointment of `kind` that a visit at `visit_at` fulfils
    (rules.fulfils: on its day or up to a week before it, at the clinic)."""
    booked = list(
        Appointment.objects.select_for_update().filter(patient=patient, kind=kind, status=AppointmentStatus.BOOKED)
    )
    if not booked:  # the usual case (and every imported record): one query
        return []
    clinic = Clinic.objects.get(pk=patient.clinic_id)
    day = visit_at if not isinstance(visit_at, datetime.datetime) else local_day(visit_at, clinic)
    attended = []
    for appointment in booked:
        if rules.fulfils(visit_day=day, appointment_day=local_day(appointment.starts_at, clinic)):
            appointment.status = AppointmentStatus.ATTENDED
            appointment.updated_at = now
            appointment.save(update_fields=["status", "updated_at"])
            attended.append(appointment)
    return attended


@transaction.atomic
def appointments_mark_missed(*, now: datetime.datetime) -> int:
    """Every booked appointment whose day (at its clinic) has passed without the visit becomes missed,
    which puts the patient on the outreach list. Idempotent: a second run finds nothing to do. Returns
    how many were marked."""
    marked = 0
    for clinic in Clinic.objects.all():
        today_starts = local_midnight(local_day(now, clinic), clinic)
        marked += Appointment.objects.filter(
            patient__clinic=clinic, status=AppointmentStatus.BOOKED, starts_at__lt=today_starts
        ).update(status=AppointmentStatus.MISSED, status_reason=MISSED_REASON, updated_at=now)
    return marked


# Capacity --------------------------------------------------------------------------------------------


def clinic_capacity_set(
    *, clinic: Clinic, appointments: Mapping[int, int], by: AbstractBaseUser
) -> list[ClinicCapacity]:
    """Set the appointments a day the clinic takes, per weekday (0 Monday .. 6 Sunday; 0: closed)."""
    _require(by, CHANGE_CAPACITY)
    errors = {
        f"weekday_{weekday}": CAPACITY_INVALID
        for weekday, number in appointments.items()
        if weekday not in range(7) or number is None or not 0 <= number <= 500
    }
    if errors:
        raise ValidationError(errors)
    return [
        ClinicCapacity.objects.update_or_create(clinic=clinic, weekday=weekday, defaults={"appointments": number})[0]
        for weekday, number in sorted(appointments.items())
    ]
