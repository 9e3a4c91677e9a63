"""The pure rules of outreach and booking, a table of cases at every boundary."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from outreach import rules

D = datetime.date
MON = D(2026, 3, 2)  # a Monday


def day(n: int) -> datetime.date:
    return MON + datetime.timedelta(days=n)


@pytest.mark.parametrize(
    ("days_overdue", "lifelong", "neurological", "score"),
    [
        (0, False, False, 0),
        (-5, False, False, 0),  # not overdue (a missed appointment before the due date)
        (1, False, False, 1),
        (61, False, False, 61),
        (1, True, False, 61),  # a lifelong patient one day overdue ranks with 61 days without
        (1, False, True, 91),
        (1, True, True, 151),
        (200, False, False, 200),
    ],
)
def test_it_scores_risk(days_overdue: int, lifelong: bool, neurological: bool, score: int) -> None:
    assert rules.risk_score(days_overdue=days_overdue, lifelong=lifelong, neurological=neurological) == score


def test_it_ranks_neurological_above_lifelong_above_days() -> None:
    neuro = rules.risk_score(days_overdue=5, lifelong=False, neurological=True)
    lifelong = rules.risk_score(days_overdue=5, lifelong=True, neurological=False)
    plain = rules.risk_score(days_overdue=64, lifelong=False, neurological=False)
    assert neuro > lifelong > plain


@pytest.mark.parametrize(
    ("today", "due", "earliest", "window"),
    [
        # Due in the future: from tomorrow (or the protocol's earliest day) to the due date.
        (day(0), day(10), day(3), (day(3), day(10))),
        (day(0), day(10), day(-3), (day(1), day(10))),
        (day(0), day(10), None, (day(1), day(10))),
        (day(0), day(1), None, (day(1), day(1))),
        # Due today or overdue (or nothing due): a week from tomorrow.
        (day(0), day(0), None, (day(1), day(7))),
        (day(0), day(-30), day(-37), (day(1), day(7))),
        (day(0), None, None, (day(1), day(7))),
        # The earliest day after the due date (a recheck window that starts late) wins.
        (day(0), day(5), day(6), (day(6), day(12))),
    ],
)
def test_it_gives_the_booking_window(today, due, earliest, window) -> None:
    assert rules.booking_window(today=today, due=due, earliest=earliest) == window


WEEKDAYS = {0: 4, 1: 4, 2: 4, 3: 4, 4: 4, 5: 0, 6: 0}


@pytest.mark.parametrize(
    ("name", "window", "capacity", "booked", "expected"),
    [
        ("empty week: the earliest", (day(0), day(4)), WEEKDAYS, {}, day(0)),
        ("the least busy", (day(0), day(4)), WEEKDAYS, {day(0): 2, day(1): 1, day(2): 3, day(3): 2, day(4): 2}, day(1)),
        ("ties go to the earliest", (day(0), day(4)), WEEKDAYS, {day(0): 2, day(1): 1, day(2): 1, day(4): 1}, day(3)),
        ("a full day is skipped", (day(0), day(1)), WEEKDAYS, {day(0): 4, day(1): 3}, day(1)),
        ("overbooked is full too", (day(0), day(1)), WEEKDAYS, {day(0): 5, day(1): 3}, day(1)),
        ("closed weekend skipped", (day(5), day(7)), WEEKDAYS, {day(7): 3}, day(7)),
        ("every day full", (day(0), day(1)), WEEKDAYS, {day(0): 4, day(1): 4}, None),
        ("only closed days", (day(5), day(6)), WEEKDAYS, {}, None),
        ("the window is respected", (day(0), day(1)), WEEKDAYS, {day(0): 3, day(1): 3}, day(0)),
        ("nothing before the window", (day(1), day(2)), WEEKDAYS, {day(1): 2, day(2): 1}, day(2)),
        ("share of the places", (day(0), day(1)), {0: 4, 1: 10}, {day(0): 1, day(1): 2}, day(1)),
        ("a missing weekday is closed", (day(0), day(1)), {1: 4}, {day(1): 3}, day(1)),
        ("one-day window", (day(2), day(2)), WEEKDAYS, {day(2): 3}, day(2)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_it_suggests(name, window, capacity, booked, expected) -> None:
    assert rules.suggest_day(window=window, capacity=capacity, booked=booked) == expected


T = datetime.time


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        ([], T(9, 0)),
        ([T(9, 0)], T(9, 15)),
        ([T(9, 0), T(9, 15), T(9, 30)], T(9, 45)),
        ([T(9, 5)], T(9, 15)),  # a booking inside the slot takes it
        ([T(9, 15)], T(9, 0)),  # a free earlier slot first
        ([T(8, 0), T(14, 0)], T(9, 0)),
    ],
)
def test_it_suggests_the_first_free_slot(taken, expected) -> None:
    assert rules.suggest_time(taken) == expected


@pytest.mark.parametrize(
    ("visit", "appointment", "fulfils"),
    [
        (day(7), day(7), True),  # on the day
        (day(0), day(7), True),  # a week early
        (day(-1), day(7), False),  # eight days early: another visit
        (day(8), day(7), False),  # the day after: the appointment was missed
    ],
)
def test_it_knows_which_visit_fulfils_an_appointment(visit, appointment, fulfils) -> None:
    assert rules.fulfils(visit_day=visit, appointment_day=appointment) is fulfils


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [(D(2030, 3, 30), 10), (D(2030, 3, 31), 9), (D(2030, 10, 26), 9), (D(2030, 10, 27), 10)],
)
def test_a_booking_is_at_the_clinics_local_time_across_daylight_saving(day, utc_hour) -> None:
    """10:00 in London is 10:00 UTC in winter and 09:00 UTC in summer (BST from 31 March 2030, to 27 October)."""
    from outreach.forms import AppointmentBookForm

    form = AppointmentBookForm({"kind": "injection", "day": day.isoformat(), "time": "10:00"})
    assert form.is_valid(), form.errors
    starts_at = form.starts_at(zoneinfo.ZoneInfo("Europe/London"))
    assert starts_at.astimezone(datetime.UTC).hour == utc_hour
    assert starts_at.astimezone(zoneinfo.ZoneInfo("Europe/London")).hour == 10
