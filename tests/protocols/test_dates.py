from __future__ import annotations

from datetime import date

import pytest

from protocols.engine.dates import add_months, completed_years

D = date.fromisoformat


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-10", 1, "2026-02-10"),
        ("2026-01-31", 1, "2026-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2026-03-31", 1, "2026-04-30"),
        ("2025-11-30", 3, "2026-02-28"),
        ("2025-12-15", 1, "2026-01-15"),
        ("2025-08-31", 6, "2026-02-28"),
        ("2025-02-24", 12, "2026-02-24"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2025-10-31", 4, "2026-02-28"),
    ],
)
def test_it_adds_calendar_months_clamping_at_month_end(start: str, months: int, expected: str) -> None:
    assert add_months(D(start), months) == D(expected)


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        ("1950-03-01", "2026-03-01", 76),
        ("1950-03-02", "2026-03-01", 75),
        ("1952-02-29", "2027-02-28", 74),
        ("1952-02-29", "2027-03-01", 75),
    ],
)
def test_it_counts_completed_years(birth: str, on: str, age: int) -> None:
    assert completed_years(D(birth), D(on)) == age
