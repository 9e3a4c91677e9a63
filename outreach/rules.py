"""The pure rules of outreach and booking: who is most at risk, which days a visit may be booked on,
which day to suggest, which slot, and which visit fulfils an appointment. No database, no clock:
dates in, answers out (tests/outreach/test_rules.py has a table at every boundary)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from fractions import Fraction

# Risk ------------------------------------------------------------------------------------------------

# A patient with neurological involvement ranks as if this many days more overdue: nerve damage from
# B12 deficiency may not recover, so these patients are called first.
NEUROLOGICAL_WEIGHT = 90
# A lifelong cause (pernicious anaemia, ileal resection ...): the deficiency comes back without
# injections, so these rank as if this many days more overdue.
LIFELONG_WEIGHT = 60


def risk_score(*, days_overdue: int, lifelong: bool, neurological: bool) -> int:
    """The outreach list's order, highest first: days overdue, plus NEUROLOGICAL_WEIGHT for
    neurological involvement and LIFELONG_WEIGHT for a lifelong cause. So a lifelong patient one day
    overdue ranks with a patient without one 61 days overdue."""
    return max(0, days_overdue) + (NEUROLOGICAL_WEIGHT if neurological else 0) + (LIFELONG_WEIGHT if lifelong else 0)


# Booking ---------------------------------------------------------------------------------------------

# Appointments a day on a weekday without a ClinicCapacity row (0 Monday .. 6 Sunday; weekends closed).
DEFAULT_CAPACITY: dict[int, int] = {0: 16, 1: 16, 2: 16, 3: 16, 4: 16, 5: 0, 6: 0}
# A patient already overdue is booked within this many days from the first bookable day.
OVERDUE_WINDOW_DAYS = 7
# Suggested times: the first free slot of this length from DAY_STARTS.
DAY_STARTS = datetime.time(9, 0)
SLOT_MINUTES = 15
# A visit this many days before the appointment's day (or on it) fulfils the appointment.
ATTEND_EARLY_DAYS = 7


def booking_window(
    *, today: datetime.date, due: datetime.date | None, earliest: datetime.date | None = None
) -> tuple[datetime.date, datetime.date]:
    """The days (first, last) a visit may be booked on: from tomorrow (today is rarely still free when
    the patient is called) or from `earliest` (the first day the protocol allows it: a maintenance
    injection a week early, a recheck's window start), whichever is later, up to `due`. A patient
    whose due date has passed (or has none) gets OVERDUE_WINDOW_DAYS from the first bookable day."""
    first = today + datetime.timedelta(days=1)
    if earliest is not None and earliest > first:
        first = earliest
    if due is None or due < first:
        return first, first + datetime.timedelta(days=OVERDUE_WINDOW_DAYS - 1)
    return first, due


def days_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def suggest_day(
    *,
    window: tuple[datetime.date, datetime.date],
    capacity: Mapping[int, int],
    booked: Mapping[datetime.date, int],
) -> datetime.date | None:
    """The least busy day inside `window` (booked over the weekday's capacity, lowest first; ties go
    to the earliest day), skipping closed days (capacity 0) and full ones. None when every day of the
    window is closed or full."""
    best: tuple[Fraction, datetime.date] | None = None
    for day in days_between(*window):
        places = capacity.get(day.weekday(), 0)
        taken = booked.get(day, 0)
        if places <= 0 or taken >= places:
            continue
        key = (Fraction(taken, places), day)
        if best is None or key < best:
            best = key
    return None if best is None else best[1]


def suggest_time(taken: Iterable[datetime.time]) -> datetime.time:
    """The first SLOT_MINUTES slot from DAY_STARTS that no booking of the day starts in."""
    starts = {t.hour * 60 + t.minute for t in taken}
    minute = DAY_STARTS.hour * 60 + DAY_STARTS.minute
    while any(minute <= start < minute + SLOT_MINUTES for start in starts) and minute < 24 * 60 - SLOT_MINUTES:
        minute += SLOT_MINUTES
    return datetime.time(minute // 60, minute % 60)


def fulfils(*, visit_day: datetime.date, appointment_day: datetime.date) -> bool:
    """Whether a visit (an injection given, a lab drawn) on `visit_day` is the booked one: on the
    appointment's day or up to ATTEND_EARLY_DAYS before it (the patient came early). A later visit
    does not: by then the appointment's day passed and it was missed."""
    return appointment_day - datetime.timedelta(days=ATTEND_EARLY_DAYS) <= visit_day <= appointment_day
