"""What the clinical record refuses outright, and what it accepts only once someone confirms it.

Pure functions and tables, no database: the services (patients.services) call them on every entry
path (pages, admin, commands, imports), and the tests check each at its boundary.

- *Hard limits* refuse, naming the field: dates before 1900 or before the patient's birth, doses and
  lab values outside what the body or a syringe can hold, numbers that are not finite or are written
  with anything but ASCII digits, notes longer than NOTES_MAX characters.
- *Soft limits* are warnings (`SoftWarning`): the service raises `NeedsConfirmation` unless the caller
  passes each warning's code in `confirmed`; confirmed warnings are stored with the entry
  (`confirmed_warnings`), naming who confirmed them and when. The usual clinical range of each analyte
  is clinic-tunable (patients.models.PlausibilityRange, edited in the admin); USUAL_RANGES are the
  defaults.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from protocols.engine import units

# Hard limits ---------------------------------------------------------------------------------------

EARLIEST_DATE = datetime.date(1900, 1, 1)
NOTES_MAX = 2000  # characters of a note or a reason
DOSE_MAX_MCG = 10_000  # a single B12 injection is 1000 mcg; ten times that is a typo, not a dose

BEFORE_1900 = "Dates before 1 Jan 1900 are not accepted: check the year."
BEFORE_BIRTH = "This date is before the patient's birth date ({birth:%d %b %Y})."
NOT_DIGITS = "{typed} is not a number: use the digits 0-9 and at most one decimal point."
NOT_FINITE = "{typed} is not a finite number."
NOT_A_NUMBER = "{typed} is not a number"
TOO_LONG = "At most {limit} characters ({length} given)."
DOSE_TOO_HIGH = "{dose} mcg cannot be a single dose: at most {limit} mcg."
OUTSIDE_PHYSICAL = (
    "{value} {unit} is outside what can be measured for {label} ({low}-{high} {unit}): check the value and its unit."
)

_PLAIN_NUMBER = re.compile(r"\s*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*", re.ASCII)


@dataclass(frozen=True)
class Range:
    """Inclusive bounds in the analyte's canonical unit (protocols.engine.units)."""

    low: Decimal
    high: Decimal

    def __contains__(self, value: object) -> bool:
        return isinstance(value, Decimal | int) and self.low <= value <= self.high


def _r(low: str, high: str) -> Range:
    return Range(Decimal(low), Decimal(high))


# What a serum can hold (canonical units): outside these, the value or its unit is wrong.
PHYSICAL_RANGES: dict[str, Range] = {
    "b12": _r("0", "50000"),  # pg/mL
    "mma": _r("0", "100000"),  # nmol/L
    "homocysteine": _r("0", "500"),  # umol/L
    "ferritin": _r("0", "100000"),  # ug/L
    "transferrin_saturation": _r("0", "100"),  # %
    "folate": _r("0", "1000"),  # ng/mL
    "vitamin_d": _r("0", "1500"),  # nmol/L
    "hemoglobin": _r("10", "300"),  # g/L
    "mcv": _r("40", "200"),  # fL
    "thiamine": _r("0", "2000"),  # nmol/L
    "calcium": _r("0.5", "6"),  # mmol/L
    "vitamin_a": _r("0", "50"),  # umol/L
}

# The usual clinical range (canonical units): outside it the value asks for a confirmation. Defaults
# of patients.models.PlausibilityRange, which the clinic may change in the admin.
USUAL_RANGES: dict[str, Range] = {
    "b12": _r("50", "2000"),
    "mma": _r("50", "2000"),
    "homocysteine": _r("3", "100"),
    "ferritin": _r("5", "1500"),
    "transferrin_saturation": _r("5", "80"),
    "folate": _r("1", "40"),
    "vitamin_d": _r("10", "250"),
    "hemoglobin": _r("60", "200"),
    "mcv": _r("60", "130"),
    "thiamine": _r("20", "300"),
    "calcium": _r("1.8", "3.0"),
    "vitamin_a": _r("0.3", "5"),
}
assert set(PHYSICAL_RANGES) == set(USUAL_RANGES) == set(units.ANALYTES)


def date_problem(day: object, *, birth_date: datetime.date | None) -> str | None:
    """A recorded date must be on or after 1 Jan 1900 and on or after the patient's birth date."""
    if isinstance(day, datetime.datetime):
        day = day.date()
    if not isinstance(day, datetime.date):
        return None  # not a date: the field's own validation says so
    if day < EARLIEST_DATE:
        return BEFORE_1900
    if birth_date is not None and day < birth_date:
        return BEFORE_BIRTH.format(birth=birth_date)
    return None


def number_problem(value: object) -> str | None:
    """A number typed or passed in: text must be plain ASCII digits with at most one decimal point
    ("٣٠٠", "1e3", "nan" and "+5" are refused; a minus sign is left for the range checks); int, Decimal and float must be finite."""
    if isinstance(value, bool) or value is None:
        return NOT_A_NUMBER.format(typed=units.written(value))
    if isinstance(value, str):
        if _PLAIN_NUMBER.fullmatch(value):
            return None
        try:
            Decimal(value.strip())
        except ArithmeticError:
            return NOT_A_NUMBER.format(typed=repr(value))
        return NOT_DIGITS.format(typed=repr(value))  # "1e3", "nan", "٣٠٠": numbers to Python, not here
    if isinstance(value, int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else NOT_FINITE.format(typed=units.written(value))
    if isinstance(value, Decimal):
        return None if value.is_finite() else NOT_FINITE.format(typed=units.written(value))
    return NOT_A_NUMBER.format(typed=units.written(value))


def text_problem(text: object, *, limit: int = NOTES_MAX) -> str | None:
    if isinstance(text, str) and len(text) > limit:
        return TOO_LONG.format(limit=limit, length=len(text))
    return None


def dose_problem(dose: object) -> str | None:
    if isinstance(dose, int) and not isinstance(dose, bool) and dose > DOSE_MAX_MCG:
        return DOSE_TOO_HIGH.format(dose=dose, limit=DOSE_MAX_MCG)
    return None


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


def value_problem(analyte: str, canonical: Decimal) -> str | None:
    """A value (in the analyte's canonical unit) outside PHYSICAL_RANGES."""
    bounds = PHYSICAL_RANGES.get(analyte)
    if bounds is None or canonical in bounds:
        return None
    found = units.analyte(analyte)
    return OUTSIDE_PHYSICAL.format(
        value=_plain(canonical),
        unit=found.canonical,
        label=found.label,
        low=_plain(bounds.low),
        high=_plain(bounds.high),
    )


# Soft limits ---------------------------------------------------------------------------------------

BACKDATED_DAYS = 3  # an injection dated more than this many days before it is recorded
DUPLICATE_HOURS = 6  # another injection of the same patient closer than this

DOSE = "dose"
BACKDATED = "backdated"
BEFORE_PREVIOUS = "before_previous"
DUPLICATE = "duplicate"
EARLY_DOSE = "early_dose"
UNUSUAL_VALUE = "unusual_value"
CODES = (DOSE, BACKDATED, BEFORE_PREVIOUS, DUPLICATE, EARLY_DOSE, UNUSUAL_VALUE)


@dataclass(frozen=True)
class SoftWarning:
    code: str  # one of CODES: what the caller passes in `confirmed`
    field: str  # the argument (and form field) it is about
    message: str


class NeedsConfirmation(ValidationError):
    """Unconfirmed soft warnings: nothing was saved. A ValidationError naming the fields, so a caller
    that does not ask for confirmations still shows them as errors; `warnings` has the codes."""

    def __init__(self, warnings: Iterable[SoftWarning]) -> None:
        self.warnings = list(warnings)
        messages: dict[str, list[str]] = {}
        for warning in self.warnings:
            messages.setdefault(warning.field, []).append(warning.message)
        super().__init__(messages)


def dose_warning(dose: int, *, profile_dose: int, profile_name: str) -> SoftWarning | None:
    if dose == profile_dose:
        return None
    return SoftWarning(DOSE, "dose_mcg", f"{dose} mcg is not the dose of {profile_name} ({profile_dose} mcg).")


def backdated_warning(given_at: datetime.datetime, *, now: datetime.datetime) -> SoftWarning | None:
    """More than BACKDATED_DAYS clinic days before it is recorded."""
    days = (_local_date(now) - _local_date(given_at)).days
    if days <= BACKDATED_DAYS:
        return None
    return SoftWarning(BACKDATED, "given_at", f"This injection is dated {days} days ago: is the date right?")


def before_previous_warning(given_at: datetime.datetime, *, latest: datetime.datetime | None) -> SoftWarning | None:
    if latest is None or given_at >= latest:
        return None
    return SoftWarning(
        BEFORE_PREVIOUS,
        "given_at",
        f"This is dated before the latest injection on record ({_local(latest):%d %b %Y %H:%M}): is the date right?",
    )


def duplicate_injection_warning(given_at: datetime.datetime, *, by: str, new: datetime.datetime) -> SoftWarning:
    """Another injection of the same patient within DUPLICATE_HOURS of `new`, given at `given_at`."""
    when = f"{_local(given_at):%H:%M}"
    if _local_date(given_at) != _local_date(new):
        when = f"{_local(given_at):%d %b %Y %H:%M}"
    return SoftWarning(DUPLICATE, "given_at", f"Already recorded: an injection at {when} by {by}. Record another?")


def is_duplicate_time(a: datetime.datetime, b: datetime.datetime) -> bool:
    return abs(a - b) < datetime.timedelta(hours=DUPLICATE_HOURS)


def duplicate_lab_warning(
    *, label: str, value: str, day: datetime.date, entered_at: datetime.datetime, by: str
) -> SoftWarning:
    return SoftWarning(
        DUPLICATE,
        "value",
        f"Already recorded at {_local(entered_at):%H:%M} on {_local(entered_at):%d %b %Y} by {by}: "
        f"{label} {value}, collected on {day:%d %b %Y}. Record another?",
    )


def unusual_value_warning(analyte: str, canonical: Decimal, usual: Range) -> SoftWarning | None:
    if canonical in usual:
        return None
    found = units.analyte(analyte)
    return SoftWarning(
        UNUSUAL_VALUE,
        "value",
        f"{_plain(canonical)} {found.canonical} is outside the usual range of {found.label} "
        f"({_plain(usual.low)}-{_plain(usual.high)} {found.canonical}): is it right?",
    )


def unconfirmed(warnings: Iterable[SoftWarning | None], confirmed: Iterable[str]) -> list[SoftWarning]:
    accepted = set(confirmed)
    return [w for w in warnings if w is not None and w.code not in accepted]


def confirmation_records(
    warnings: Iterable[SoftWarning | None], *, by: str, by_id: object, at: datetime.datetime
) -> list[dict[str, object]]:
    """What is stored with the entry (`confirmed_warnings`): each warning and who confirmed it, when."""
    return [
        {"code": w.code, "field": w.field, "message": w.message, "by": by, "by_id": by_id, "at": at.isoformat()}
        for w in warnings
        if w is not None
    ]


def hard_problems(checks: Mapping[str, str | None]) -> dict[str, str]:
    return {field: message for field, message in checks.items() if message}


def _local(moment: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment


def _local_date(moment: datetime.datetime) -> datetime.date:
    return _local(moment).date()
