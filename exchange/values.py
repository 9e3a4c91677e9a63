"""Cell values as people write them (FORMAT.md): each parser returns the value or raises Refused with
the reason shown as `FILE row N, column COLUMN: reason`. A blank optional cell is None ("not recorded")."""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterable
from decimal import Decimal

from django.utils import timezone

from patients import plausibility


class Refused(ValueError):
    pass


YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0"}
SEX = {"female": "female", "f": "female", "male": "male", "m": "male", "other": "other", "unknown": "unknown"}


def blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: object) -> str:
    if blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an XLSX number cell holding a record number or a phone number
    return str(value).strip()


def yes_no(value: object) -> bool | None:
    if blank(value):
        return None
    if isinstance(value, bool):
        return value
    word = text(value).lower()
    if word in YES:
        return True
    if word in NO:
        return False
    raise Refused(f"{text(value)!r} is not yes or no.")


def _key(word: str) -> str:
    return re.sub(r"[\s\-]+", "_", word.strip().lower())


@functools.lru_cache(maxsize=64)
def _codes(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Every spelling of the choices (code or label, as _key makes them) -> the code; the first wins."""
    found: dict[str, str] = {}
    for code, label in pairs:
        found.setdefault(_key(str(code)), str(code))
        found.setdefault(_key(str(label)), str(code))
    return found


def choice(value: object, choices: Iterable[tuple[str, str]], what: str) -> str | None:
    """A choice by its code or its label in any case (`Left deltoid`, `left_deltoid`)."""
    if blank(value):
        return None
    pairs = tuple(choices)
    code = _codes(pairs).get(_key(text(value)))
    if code is not None:
        return code
    allowed = ", ".join(str(code) for code, _ in pairs)
    raise Refused(f"{text(value)!r} is not a {what}: one of {allowed}.")


def sex(value: object) -> str:
    if blank(value):
        return "unknown"
    found = SEX.get(text(value).lower())
    if found is None:
        raise Refused(f"{text(value)!r} is not a sex: female (f), male (m), other, unknown or blank.")
    return found


def _example(date_format: str | None) -> str:
    return datetime.date(2026, 1, 31).strftime(date_format) if date_format else "2026-01-31"


def date(value: object, date_format: str | None) -> datetime.date | None:
    if blank(value):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    written = text(value)
    try:
        if date_format:
            return datetime.datetime.strptime(written, date_format).date()
        return datetime.date.fromisoformat(written)
    except ValueError:
        raise Refused(f"{written!r} is not a date: write it as {_example(date_format)}.") from None


_TIME = re.compile(r"^(?P<day>.+?)[ T](?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?P<zone>Z|[+-]\d{2}:?\d{2})?$")


def moment(value: object, date_format: str | None) -> tuple[datetime.date, datetime.datetime | None] | None:
    """A date, or a date and time in the clinic's zone: (day, aware datetime or None when only a day)."""
    if blank(value):
        return None
    zone = timezone.get_current_timezone()
    if isinstance(value, datetime.datetime):
        aware = value if timezone.is_aware(value) else timezone.make_aware(value, zone)
        if value.time() == datetime.time(0) and not timezone.is_aware(value):
            return value.date(), None  # an XLSX date cell
        return timezone.localtime(aware, zone).date(), aware
    if isinstance(value, datetime.date):
        return value, None
    written = text(value)
    found = _TIME.match(written)
    if found is None:
        return date(written, date_format), None  # type: ignore[return-value]
    day = date(found["day"], date_format)
    try:
        clock = datetime.time.fromisoformat(found["time"].zfill(5) if len(found["time"]) == 4 else found["time"])
    except ValueError:
        raise Refused(f"{written!r} is not a time of day: write it as {_example(date_format)} 09:30.") from None
    naive = datetime.datetime.combine(day, clock)  # type: ignore[arg-type]
    if found["zone"]:
        aware = datetime.datetime.fromisoformat(f"{naive.isoformat()}{found['zone'].replace('Z', '+00:00')}")
    else:
        aware = timezone.make_aware(naive, zone)
    return timezone.localtime(aware, zone).date(), aware


def whole(value: object) -> int | None:
    """A whole number: XLSX cells as numbers, text with the digits 0-9 only."""
    if blank(value):
        return None
    if isinstance(value, bool):
        raise Refused(f"{value!r} is not a number.")
    if isinstance(value, float):
        if not value.is_integer():
            raise Refused(f"{value:g} is not a whole number.")
        return int(value)
    if isinstance(value, int):
        return value
    written = text(value)
    problem = plausibility.number_problem(written)
    if problem:
        raise Refused(problem)
    if "." in written:
        raise Refused(f"{written!r} is not a whole number.")
    return int(written)


def number(value: object) -> str | None:
    """A lab value, kept as written (text) for the record's own checks; XLSX numbers as their digits."""
    if blank(value):
        return None
    if isinstance(value, float | int) and not isinstance(value, bool):
        return format(Decimal(repr(value)) if isinstance(value, float) else Decimal(value), "f")
    return text(value)
