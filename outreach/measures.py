"""The outreach measures, per clinic and month (the month of the call, at the clinic):

- calls: contact attempts made;
- reached: calls that reached someone who answered for the patient (REACHED outcomes);
- booked: calls that ended in a booking ("reached, booked");
- patients: patients called (one or more calls in the month);
- returned: patients called who returned to care within RETURN_DAYS of a call of the month (an
  injection given or a lab drawn on the day of the call or up to RETURN_DAYS after it: Simple.org's
  "returned to care within 15 days");
- still lost: patients called who have had no injection and no lab since their first call of the
  month, to this day, and are still in care (not discharged).

`outreach_measures` is pure (calls and visits in, rows out); `measures_for` loads them (four queries).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import QuerySet

from accounts.models import Clinic
from outreach.models import ContactAttempt, ContactOutcome
from patients.models import Injection, LabResult, Patient
from patients.selectors import Clinics

RETURN_DAYS = 15
REACHED = frozenset(
    {
        ContactOutcome.REACHED_BOOKED,
        ContactOutcome.REACHED_CALL_BACK,
        ContactOutcome.DECLINED,
        ContactOutcome.MOVED_AWAY,
        ContactOutcome.DECEASED,
    }
)
MEASURES = ("calls", "reached", "booked", "patients", "returned", "still_lost")
LABELS = {
    "calls": "Calls made",
    "reached": "Reached",
    "booked": "Booked",
    "patients": "Patients called",
    "returned": f"Returned to care within {RETURN_DAYS} days",
    "still_lost": "Still lost",
}


@dataclass(frozen=True)
class Call:
    patient_id: int
    clinic_id: int
    day: datetime.date  # at the clinic
    outcome: str


@dataclass(frozen=True)
class Visit:
    patient_id: int
    day: datetime.date  # an injection given or a lab drawn


@dataclass
class MonthRow:
    clinic_id: int
    month: datetime.date  # the first of the month
    calls: int = 0
    reached: int = 0
    booked: int = 0
    patients: int = 0
    returned: int = 0
    still_lost: int = 0
    clinic_name: str = ""

    def values(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in MEASURES}


@dataclass
class Measures:
    rows: list[MonthRow] = field(default_factory=list)

    def total(self, month: datetime.date | None = None) -> dict[str, int]:
        rows = [r for r in self.rows if month is None or r.month == month]
        return {name: sum(getattr(r, name) for r in rows) for name in MEASURES}

    def months(self) -> list[datetime.date]:
        return sorted({r.month for r in self.rows})


def month_of(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def outreach_measures(
    *, calls: Iterable[Call], visits: Iterable[Visit], discharged: Iterable[int] = ()
) -> list[MonthRow]:
    """The measures (see the module) per clinic and month, by month then clinic."""
    gone = set(discharged)
    visit_days: dict[int, list[datetime.date]] = {}
    for visit in visits:
        visit_days.setdefault(visit.patient_id, []).append(visit.day)
    groups: dict[tuple[int, datetime.date], list[Call]] = {}
    for call in calls:
        groups.setdefault((call.clinic_id, month_of(call.day)), []).append(call)
    rows = []
    for (clinic_id, month), month_calls in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0])):
        row = MonthRow(clinic_id=clinic_id, month=month)
        row.calls = len(month_calls)
        row.reached = sum(call.outcome in REACHED for call in month_calls)
        row.booked = sum(call.outcome == ContactOutcome.REACHED_BOOKED for call in month_calls)
        by_patient: dict[int, list[datetime.date]] = {}
        for call in month_calls:
            by_patient.setdefault(call.patient_id, []).append(call.day)
        row.patients = len(by_patient)
        for patient_id, days in by_patient.items():
            seen = visit_days.get(patient_id, [])
            if any(d <= v <= d + datetime.timedelta(days=RETURN_DAYS) for d in days for v in seen):
                row.returned += 1
            if patient_id not in gone and not any(v >= min(days) for v in seen):
                row.still_lost += 1
        rows.append(row)
    return rows


def measures_for(*, clinics: Clinics, since: datetime.date) -> Measures:
    """The measures of the calls to patients of `clinics` from `since` (at each clinic), each call
    counted under the patient's clinic of today. Four queries: three given a list of clinics, one or
    two when nobody was called."""
    if isinstance(clinics, QuerySet):
        zones = {c.pk: c for c in Clinic.objects.filter(pk__in=clinics.values("pk"))}
    else:  # the clinics themselves (a page that has loaded them already): no query
        zones = {c.pk: c for c in clinics}
    first = min(
        (datetime.datetime.combine(since, datetime.time(0), tzinfo=c.zone) for c in zones.values()),
        default=None,
    )
    if first is None:
        return Measures()
    calls = [
        Call(patient_id, clinic_id, at.astimezone(zones[clinic_id].zone).date(), outcome)
        for patient_id, clinic_id, at, outcome in ContactAttempt.objects.filter(
            patient__clinic__in=list(zones), at__gte=first
        ).values_list("patient_id", "patient__clinic_id", "at", "outcome")
    ]
    calls = [call for call in calls if call.day >= since]
    if not calls:  # nothing to measure: no visits to look up
        return Measures()
    called = {call.patient_id for call in calls}
    clinic_of = {call.patient_id: call.clinic_id for call in calls}
    visits = [
        Visit(patient_id, at.astimezone(zones[clinic_of[patient_id]].zone).date())
        for patient_id, at in Injection.objects.filter(
            patient_id__in=called, voided_at__isnull=True, given_at__gte=first
        ).values_list("patient_id", "given_at")
    ] + [
        Visit(patient_id, day)
        for patient_id, day in LabResult.objects.filter(
            patient_id__in=called, voided_at__isnull=True, collected_on__gte=since
        ).values_list("patient_id", "collected_on")
    ]
    discharged = Patient.objects.filter(pk__in=called, is_active=False).values_list("pk", flat=True)
    rows = outreach_measures(calls=calls, visits=visits, discharged=discharged)
    for row in rows:
        row.clinic_name = zones[row.clinic_id].name
    return Measures(rows=rows)


def report_since(today: datetime.date, months: int) -> datetime.date:
    """The first day of the month `months - 1` months before today's (months=1: this month's first)."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return datetime.date(index // 12, index % 12 + 1, 1)


def recent_measures(*, clinics: Clinics, today: datetime.date) -> dict[str, object]:
    """This month's and last month's measures of `clinics`, for the dashboard's card."""
    since = report_since(today, 2)
    result = measures_for(clinics=clinics, since=since)
    return {
        "this_month": result.total(today.replace(day=1)),
        "last_month": result.total(since),
        "since": since,
        "labels": LABELS,
    }
