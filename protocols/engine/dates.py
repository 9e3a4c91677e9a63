"""Calendar arithmetic the rules use: calendar months that clamp at month ends, completed years."""

from __future__ import annotations

from datetime import date

_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS[month - 1]


def add_months(day: date, months: int) -> date:
    """10 Jan + 1 month = 10 Feb; 31 Jan + 1 month = 28 Feb (29 in a leap year): a month end clamps."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month0 + 1
    return date(year, month, min(day.day, _days_in_month(year, month)))


def completed_years(birth: date, on: date) -> int:
    """Age in completed years on `on` (someone born 29 Feb turns a year older on 1 Mar in common years)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
