"""The pure comparison of a patient's outcome under two profile versions, and the counts over many."""

from __future__ import annotations

from datetime import date

import pytest

from protocols.engine.compare import NO_CHANGE, Change, Outcome, Tally, compare, move
from protocols.engine.evaluate import evaluate
from protocols.engine.profiles import MONTHLY_CYANOCOBALAMIN
from tests.protocols.builders import facts, history

D = date.fromisoformat


def outcome(
    injection: str | None = "2026-04-01",
    recheck: str | None = "2026-06-01",
    verdict: str = "continue",
    alerts: tuple[str, ...] = (),
) -> Outcome:
    return Outcome(D(injection) if injection else None, D(recheck) if recheck else None, verdict, frozenset(alerts))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, None, ""),
        ("2026-04-01", "2026-04-01", ""),
        ("2026-04-01", "2026-03-31", "earlier"),
        ("2026-04-01", "2026-04-02", "later"),
        ("2026-04-01", "2027-04-01", "later"),
        (None, "2026-04-01", "added"),
        ("2026-04-01", None, "removed"),
    ],
)
def test_it_says_how_a_date_moves(old: str | None, new: str | None, expected: str) -> None:
    assert move(D(old) if old else None, D(new) if new else None) == expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (outcome(), outcome(), NO_CHANGE),
        (outcome(), outcome(injection="2026-05-01"), Change(next_injection="later")),
        (outcome(), outcome(injection="2026-03-01"), Change(next_injection="earlier")),
        (outcome(injection=None), outcome(), Change(next_injection="added")),
        (outcome(), outcome(recheck=None), Change(next_recheck="removed")),
        (outcome(), outcome(recheck="2026-05-31"), Change(next_recheck="earlier")),
        (outcome(), outcome(verdict="lifelong"), Change(verdict=("continue", "lifelong"))),
        (outcome(alerts=("A",)), outcome(alerts=("A", "C", "B")), Change(alerts_added=("B", "C"))),
        (outcome(alerts=("A", "B")), outcome(alerts=()), Change(alerts_removed=("A", "B"))),
        (outcome(alerts=("A",)), outcome(alerts=("B",)), Change(alerts_added=("B",), alerts_removed=("A",))),
        (
            outcome(injection="2026-04-01", recheck=None, verdict="oral_switch_candidate"),
            outcome(injection="2026-06-01", recheck="2026-09-01", verdict="continue", alerts=("X",)),
            Change("later", "added", ("oral_switch_candidate", "continue"), ("X",), ()),
        ),
    ],
)
def test_it_compares_two_outcomes(old: Outcome, new: Outcome, expected: Change) -> None:
    assert compare(old, new) == expected
    assert bool(compare(old, new)) is (expected != NO_CHANGE)


def test_no_change_is_false_and_any_change_true() -> None:
    assert not NO_CHANGE
    assert Change(alerts_removed=("A",))
    assert Change(verdict=("a", "b"))


def test_the_tally_counts_each_patient_and_each_alert_once() -> None:
    tally = Tally()
    for change in (
        NO_CHANGE,
        Change(next_injection="later", verdict=("continue", "lifelong"), alerts_added=("A", "B")),
        Change(next_injection="later", next_recheck="earlier", alerts_removed=("A",)),
        Change(next_recheck="added", verdict=("continue", "lifelong"), alerts_added=("A",)),
    ):
        tally.add(change)
    assert tally.as_dict() == {
        "patients": 4,
        "changed": 3,
        "next_injection": {"earlier": 0, "later": 2, "added": 0, "removed": 0},
        "next_recheck": {"earlier": 1, "later": 0, "added": 1, "removed": 0},
        "verdicts_changed": 2,
        "verdicts": {"continue -> lifelong": 2},
        "alerts_appear": 3,
        "alerts_disappear": 1,
        "alerts_added": {"A": 2, "B": 1},
        "alerts_removed": {"A": 1},
    }


def test_an_empty_tally_names_every_move_at_zero() -> None:
    counts = Tally().as_dict()
    assert counts["patients"] == 0 and counts["next_injection"] == {"earlier": 0, "later": 0, "added": 0, "removed": 0}


def test_the_outcome_of_an_evaluation_and_of_a_discharged_patient() -> None:
    evaluation = evaluate(facts("2026-03-10", injections=history(D("2026-01-24"))), MONTHLY_CYANOCOBALAMIN)
    assert evaluation.alerts, "the history stops in January: an overdue alert"
    in_care = Outcome.of(evaluation)
    assert in_care.next_injection_due == evaluation.next_injection_due
    assert in_care.verdict == evaluation.discontinuation.verdict
    assert in_care.alerts == {a.rule for a in evaluation.alerts}
    assert Outcome.of(evaluation, in_care=False).alerts == frozenset()
