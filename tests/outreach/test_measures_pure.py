"""outreach.measures.outreach_measures: calls and visits in, per clinic and month out."""

from __future__ import annotations

import datetime

from outreach.measures import Call, Visit, outreach_measures, report_since

D = datetime.date


def test_it_counts_calls_reached_and_booked_per_clinic_and_month() -> None:
    calls = [
        Call(1, 10, D(2026, 3, 2), "no_answer"),
        Call(1, 10, D(2026, 3, 3), "reached_booked"),
        Call(2, 10, D(2026, 3, 5), "voicemail"),
        Call(3, 20, D(2026, 3, 5), "declined"),
        Call(2, 10, D(2026, 4, 1), "reached_call_back"),
    ]
    rows = outreach_measures(calls=calls, visits=[])
    assert [(r.clinic_id, r.month, r.calls, r.reached, r.booked, r.patients) for r in rows] == [
        (10, D(2026, 3, 1), 3, 1, 1, 2),
        (20, D(2026, 3, 1), 1, 1, 0, 1),
        (10, D(2026, 4, 1), 1, 1, 0, 1),
    ]


def test_it_counts_a_return_within_15_days_of_a_call_only() -> None:
    calls = [
        Call(1, 10, D(2026, 3, 1), "reached_booked"),  # back on day 15: returned
        Call(2, 10, D(2026, 3, 1), "reached_booked"),  # back on day 16: not within 15 days
        Call(3, 10, D(2026, 3, 1), "no_answer"),  # back the same day: returned
        Call(4, 10, D(2026, 3, 10), "no_answer"),  # a visit before the call does not count
        Call(5, 10, D(2026, 3, 1), "no_answer"),  # never came, discharged: not still lost
        Call(6, 10, D(2026, 3, 1), "no_answer"),  # never came, in care: still lost
    ]
    visits = [
        Visit(1, D(2026, 3, 16)),
        Visit(2, D(2026, 3, 17)),
        Visit(3, D(2026, 3, 1)),
        Visit(4, D(2026, 3, 9)),
    ]
    [row] = outreach_measures(calls=calls, visits=visits, discharged=[5])
    assert (row.patients, row.returned, row.still_lost) == (6, 2, 2)  # lost: 4 (came before) and 6


def test_a_patient_called_twice_counts_once() -> None:
    calls = [Call(1, 10, D(2026, 3, 1), "no_answer"), Call(1, 10, D(2026, 3, 20), "reached_booked")]
    [row] = outreach_measures(calls=calls, visits=[Visit(1, D(2026, 3, 30))])
    assert (row.calls, row.patients, row.returned, row.still_lost) == (2, 1, 1, 0)


def test_it_starts_the_report_months_back() -> None:
    assert report_since(D(2026, 3, 20), 12) == D(2025, 4, 1)
    assert report_since(D(2026, 3, 20), 1) == D(2026, 3, 1)
    assert report_since(D(2026, 1, 5), 2) == D(2025, 12, 1)
