"""Reads of outreach: the list of patients to call back to care, the booking suggestion, a clinic's
day of appointments, a patient's appointments and calls.

Who is on the outreach list (active patients of the user's clinics, with no appointment booked):
- injection overdue (care status `next_injection_due` before today; more than
  care.selectors.LOST_TO_FOLLOW_UP_DAYS: lost to follow-up), or a recheck's labs overdue
  (`labs_due_on` before today), or
- a missed appointment with no injection or lab since (a miss puts the patient on the list even
  before the care status says overdue).
Most at risk first (outreach.rules.risk_score). A patient whose last call set a next attempt date
after today waits in a separate list, "call again later", ordered by that date, and comes back to
the list to call on that day; a patient reported moved away or deceased waits for a nurse to
discharge them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Exists, Max, OuterRef, Q

from accounts.models import Clinic
from care.models import CareStatus, Verdict
from care.selectors import LOST_TO_FOLLOW_UP_DAYS, early_dose_limit
from outreach import rules
from outreach.models import Appointment, AppointmentKind, AppointmentStatus, ContactAttempt
from outreach.services import local_day, local_midnight
from patients.models import Injection, LabResult, Patient
from patients.selectors import Clinics

TO_DISCHARGE = ("moved_away", "deceased")


@dataclass(frozen=True)
class OutreachRow:
    patient: Patient
    status: CareStatus | None
    days_overdue: int
    injection_days_overdue: int
    recheck_days_overdue: int
    missed: Appointment | None
    last_attempt: ContactAttempt | None
    attempts: int
    score: int

    @property
    def lost(self) -> bool:
        return self.injection_days_overdue > LOST_TO_FOLLOW_UP_DAYS

    @property
    def lifelong(self) -> bool:
        return self.status is not None and self.status.verdict == Verdict.LIFELONG

    @property
    def kind(self) -> str:
        """What to book: the injection when it is overdue (or nothing is), else the recheck."""
        if self.recheck_days_overdue > self.injection_days_overdue:
            return AppointmentKind.RECHECK
        if self.missed is not None and not self.injection_days_overdue and not self.recheck_days_overdue:
            return self.missed.kind
        return AppointmentKind.INJECTION


@dataclass
class OutreachList:
    today: datetime.date
    to_call: list[OutreachRow] = field(default_factory=list)
    later: list[OutreachRow] = field(default_factory=list)
    to_discharge: list[OutreachRow] = field(default_factory=list)

    def patient_ids(self) -> set[int]:
        return {row.patient.pk for row in (*self.to_call, *self.later, *self.to_discharge)}


def _overdue_days(due: datetime.date | None, today: datetime.date) -> int:
    return max(0, (today - due).days) if due is not None else 0


def outreach_list(*, today: datetime.date, clinics: Clinics) -> OutreachList:
    """The outreach list of `clinics` on `today` (see the module). Six queries whatever the size."""
    booked = Appointment.objects.filter(patient=OuterRef("pk"), status=AppointmentStatus.BOOKED)
    recent_miss = Appointment.objects.filter(
        patient=OuterRef("pk"),
        status=AppointmentStatus.MISSED,
        starts_at__gte=datetime.datetime.combine(
            today - datetime.timedelta(days=LOST_TO_FOLLOW_UP_DAYS), datetime.time(0), tzinfo=datetime.UTC
        ),
    )
    overdue = Q(care_status__next_injection_due__lt=today) | Q(care_status__labs_due_on__lt=today)
    patients = list(
        Patient.objects.filter(is_active=True, clinic__in=clinics)
        .filter(overdue | Q(Exists(recent_miss)))
        .exclude(Exists(booked))
        .select_related("clinic", "care_status")
        .defer("care_status__because", "care_status__rules", "care_status__verdict_rules", "care_status__verdict_unmet")
    )
    ids = [p.pk for p in patients]
    misses: dict[int, Appointment] = {}
    for appointment in Appointment.objects.filter(patient_id__in=ids, status=AppointmentStatus.MISSED).order_by(
        "starts_at"
    ):
        misses[appointment.patient_id] = appointment  # the latest wins
    last_injection = dict(
        Injection.objects.filter(patient_id__in=misses, voided_at__isnull=True)
        .values_list("patient_id")
        .annotate(last=Max("given_at"))
        .values_list("patient_id", "last")
    )
    last_lab = dict(
        LabResult.objects.filter(patient_id__in=misses, voided_at__isnull=True)
        .values_list("patient_id")
        .annotate(last=Max("collected_on"))
        .values_list("patient_id", "last")
    )
    latest: dict[int, ContactAttempt] = {}
    counts: dict[int, int] = {}
    for attempt in ContactAttempt.objects.filter(patient_id__in=ids).select_related("by").order_by("at", "pk"):
        latest[attempt.patient_id] = attempt
        counts[attempt.patient_id] = counts.get(attempt.patient_id, 0) + 1

    board = OutreachList(today=today)
    for patient in patients:
        status = getattr(patient, "care_status", None)
        injection = _overdue_days(status.next_injection_due if status else None, today)
        recheck = _overdue_days(status.labs_due_on if status else None, today)
        missed = misses.get(patient.pk)
        if missed is not None:
            since = missed.starts_at
            came = last_injection.get(patient.pk)
            drew = last_lab.get(patient.pk)
            if (came is not None and came >= since) or (drew is not None and drew >= local_day(since, patient.clinic)):
                missed = None  # the patient came after the miss
        if not injection and not recheck and missed is None:
            continue
        days = max(injection, recheck, (today - local_day(missed.starts_at, patient.clinic)).days if missed else 0)
        row = OutreachRow(
            patient=patient,
            status=status,
            days_overdue=days,
            injection_days_overdue=injection,
            recheck_days_overdue=recheck,
            missed=missed,
            last_attempt=latest.get(patient.pk),
            attempts=counts.get(patient.pk, 0),
            score=rules.risk_score(
                days_overdue=days,
                lifelong=status is not None and status.verdict == Verdict.LIFELONG,
                neurological=patient.neurological_involvement,
            ),
        )
        last = row.last_attempt
        if last is not None and last.outcome in TO_DISCHARGE:
            board.to_discharge.append(row)
        elif last is not None and last.next_attempt_on is not None and last.next_attempt_on > today:
            board.later.append(row)
        else:
            board.to_call.append(row)
    by_name = lambda row: (row.patient.family_name, row.patient.given_name, row.patient.pk)  # noqa: E731
    board.to_call.sort(key=lambda row: (-row.score, *by_name(row)))
    board.later.sort(key=lambda row: (row.last_attempt.next_attempt_on, -row.score, *by_name(row)))
    board.to_discharge.sort(key=by_name)
    return board


# Booking ---------------------------------------------------------------------------------------------


def capacity_of(clinic: Clinic) -> dict[int, int]:
    """Appointments a day per weekday: the clinic's ClinicCapacity rows over rules.DEFAULT_CAPACITY."""
    return {**rules.DEFAULT_CAPACITY, **dict(clinic.capacities.values_list("weekday", "appointments"))}


def _taking_place(clinic: Clinic) -> Q:
    return Q(patient__clinic=clinic, status__in=[AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED])


def booked_per_day(clinic: Clinic, first: datetime.date, last: datetime.date) -> dict[datetime.date, int]:
    """Appointments booked (or attended) on each day from `first` to `last`, at the clinic."""
    counts: dict[datetime.date, int] = {}
    starts = Appointment.objects.filter(
        _taking_place(clinic),
        starts_at__gte=local_midnight(first, clinic),
        starts_at__lt=local_midnight(last + datetime.timedelta(days=1), clinic),
    ).values_list("starts_at", flat=True)
    for start in starts:
        day = local_day(start, clinic)
        counts[day] = counts.get(day, 0) + 1
    return counts


@dataclass(frozen=True)
class DayLoad:
    day: datetime.date
    booked: int
    capacity: int

    @property
    def full(self) -> bool:
        return self.booked >= self.capacity


@dataclass(frozen=True)
class Suggestion:
    kind: str
    window: tuple[datetime.date, datetime.date]
    day: datetime.date | None
    time: datetime.time
    loads: list[DayLoad]
    due: datetime.date | None


def booking_suggestion(*, patient: Patient, kind: str, today: datetime.date) -> Suggestion:
    """The window the care status allows for the next `kind` (rules.booking_window), each day's load,
    and the least busy day with room (rules.suggest_day) at its first free slot."""
    clinic = patient.clinic
    status = CareStatus.objects.filter(patient=patient).first()
    due = earliest = None
    if status is not None and kind == AppointmentKind.INJECTION and status.next_injection_due is not None:
        due = status.next_injection_due
        earliest = due - datetime.timedelta(days=early_dose_limit(status.maintenance_interval_days))
    elif status is not None and kind == AppointmentKind.RECHECK:
        due = status.labs_due_on or status.next_recheck_due
        earliest = status.labs_window_from
    window = rules.booking_window(today=today, due=due, earliest=earliest)
    capacity = capacity_of(clinic)
    booked = booked_per_day(clinic, *window)
    day = rules.suggest_day(window=window, capacity=capacity, booked=booked)
    taken: list[datetime.time] = []
    if day is not None:
        taken = [
            start.astimezone(clinic.zone).time()
            for start in Appointment.objects.filter(
                _taking_place(clinic),
                starts_at__gte=local_midnight(day, clinic),
                starts_at__lt=local_midnight(day + datetime.timedelta(days=1), clinic),
            ).values_list("starts_at", flat=True)
        ]
    loads = [
        DayLoad(d, booked.get(d, 0), capacity.get(d.weekday(), 0))
        for d in rules.days_between(*window)
        if capacity.get(d.weekday(), 0) > 0
    ]
    return Suggestion(kind=kind, window=window, day=day, time=rules.suggest_time(taken), loads=loads, due=due)


def open_appointments(patient: Patient) -> list[Appointment]:
    return list(Appointment.objects.filter(patient=patient, status=AppointmentStatus.BOOKED).order_by("starts_at"))


# The day view ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClinicDay:
    clinic: Clinic
    day: datetime.date
    appointments: list[Appointment]
    capacity: int

    def of(self, status: str) -> list[Appointment]:
        return [a for a in self.appointments if a.status == status]

    @property
    def booked(self) -> list[Appointment]:
        return self.of(AppointmentStatus.BOOKED)

    @property
    def attended(self) -> list[Appointment]:
        return self.of(AppointmentStatus.ATTENDED)

    @property
    def missed(self) -> list[Appointment]:
        return self.of(AppointmentStatus.MISSED)

    @property
    def cancelled(self) -> list[Appointment]:
        return self.of(AppointmentStatus.CANCELLED)


def clinic_days(*, day: datetime.date, clinics: Clinics) -> list[ClinicDay]:
    """Each clinic's appointments on `day` (its own local day), by time: who is booked, who came, who
    did not, what was cancelled. Two queries a clinic."""
    result = []
    for clinic in Clinic.objects.filter(
        pk__in=clinics.values("pk") if hasattr(clinics, "values") else [c.pk for c in clinics]
    ).order_by("name"):
        appointments = list(
            Appointment.objects.filter(
                patient__clinic=clinic,
                starts_at__gte=local_midnight(day, clinic),
                starts_at__lt=local_midnight(day + datetime.timedelta(days=1), clinic),
            )
            .select_related("patient", "booked_by")
            .order_by("starts_at", "pk")
        )
        result.append(ClinicDay(clinic, day, appointments, capacity_of(clinic).get(day.weekday(), 0)))
    return result


def patient_outreach(patient: Patient) -> tuple[list[ContactAttempt], list[Appointment]]:
    """The patient's calls and appointments, newest first (for the chart)."""
    return (
        list(patient.contact_attempts.select_related("by").order_by("-at", "-pk")),
        list(patient.appointments.select_related("booked_by").order_by("-starts_at", "-pk")),
    )
