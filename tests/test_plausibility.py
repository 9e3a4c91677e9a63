"""Plausibility: hard limits refuse naming the field, soft warnings ask for a confirmation that is
stored with the entry, duplicates are caught whatever the form's one-time key; nothing is half-saved.
Each limit is tested at its boundary."""

from __future__ import annotations

import datetime
import uuid
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from care.models import CareStatus
from clinic import actions
from patients import plausibility
from patients.models import Injection, LabResult, Patient, PlausibilityRange
from patients.plausibility import NeedsConfirmation
from protocols.engine import units

pytestmark = pytest.mark.django_db

TZ = datetime.UTC
D = datetime.date.fromisoformat


def _counts() -> tuple[int, ...]:
    return (
        Injection.objects.count(),
        Injection.history.count(),
        LabResult.objects.count(),
        LabResult.history.count(),
    )


@contextmanager
def refused(field: str, part: str = ""):
    """A hard limit: ValidationError naming `field` (not a question), nothing written."""
    before = _counts()
    with pytest.raises(ValidationError) as error:
        yield
    assert not isinstance(error.value, NeedsConfirmation), error.value
    assert field in error.value.message_dict, error.value.message_dict
    assert part in " ".join(error.value.message_dict[field])
    assert _counts() == before


@contextmanager
def asks(*codes: str):
    """A soft limit: NeedsConfirmation with exactly these warnings, nothing written."""
    before = _counts()
    with pytest.raises(NeedsConfirmation) as question:
        yield
    assert sorted(w.code for w in question.value.warnings) == sorted(codes)
    assert _counts() == before


# The pure functions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "birth", "problem"),
    [
        (D("1899-12-31"), None, "1900"),
        (D("1900-01-01"), None, None),
        (D("0001-01-01"), None, "1900"),
        (D("1970-05-09"), D("1970-05-10"), "birth date"),
        (D("1970-05-10"), D("1970-05-10"), None),
        (datetime.datetime(1970, 5, 9, 23, 0), D("1970-05-10"), "birth date"),
    ],
)
def test_it_refuses_dates_before_1900_or_the_birth_date(day, birth, problem) -> None:
    found = plausibility.date_problem(day, birth_date=birth)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("300", None),
        (" 12.5 ", None),
        (".5", None),
        ("5.", None),
        ("-4", None),  # a number: the range checks refuse it
        ("\u0663\u0660\u0660", "digits 0-9"),  # Arabic-Indic 300
        ("\uff13\uff10\uff10", "digits 0-9"),  # full-width 300
        ("1e309", "digits 0-9"),
        ("1E3", "digits 0-9"),
        ("nan", "digits 0-9"),
        ("inf", "digits 0-9"),
        ("Infinity", "digits 0-9"),
        ("+5", "digits 0-9"),
        ("1,5", "not a number"),
        ("abc", "not a number"),
        ("", "not a number"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (Decimal("Infinity"), "finite"),
        (Decimal("NaN"), "finite"),
        (1e308, None),
        (300, None),
        (Decimal("300.5"), None),
        (None, "not a number"),
        (True, "not a number"),
    ],
)
def test_it_accepts_only_finite_numbers_in_ascii_digits(value: Any, problem: str | None) -> None:
    found = plausibility.number_problem(value)
    assert (found is None) if problem is None else (problem in found), found


@pytest.mark.parametrize(
    ("length", "ok"), [(0, True), (plausibility.NOTES_MAX, True), (plausibility.NOTES_MAX + 1, False)]
)
def test_it_limits_notes(length: int, ok: bool) -> None:
    assert (plausibility.text_problem("x" * length) is None) is ok


@pytest.mark.parametrize(
    ("dose", "ok"), [(1, True), (plausibility.DOSE_MAX_MCG, True), (plausibility.DOSE_MAX_MCG + 1, False)]
)
def test_it_limits_a_single_dose(dose: int, ok: bool) -> None:
    assert (plausibility.dose_problem(dose) is None) is ok


PHYSICAL_EDGES = [
    (code, value, ok)
    for code, bounds in plausibility.PHYSICAL_RANGES.items()
    for value, ok in (
        (bounds.low, True),
        (bounds.high, True),
        (bounds.high + Decimal("0.0001"), False),
        *([(bounds.low - Decimal("0.0001"), False)] if bounds.low > 0 else []),
    )
]


@pytest.mark.parametrize(("analyte", "value", "ok"), PHYSICAL_EDGES)
def test_it_refuses_values_outside_the_physical_range_of_each_analyte(analyte: str, value: Decimal, ok: bool) -> None:
    assert (plausibility.value_problem(analyte, value) is None) is ok


USUAL_EDGES = [
    (code, value, ok)
    for code, bounds in plausibility.USUAL_RANGES.items()
    for value, ok in (
        (bounds.low, True),
        (bounds.high, True),
        (bounds.high + Decimal("0.0001"), False),
        (bounds.low - Decimal("0.0001"), False),
    )
]


@pytest.mark.parametrize(("analyte", "value", "ok"), USUAL_EDGES)
def test_it_warns_outside_the_usual_range_of_each_analyte(analyte: str, value: Decimal, ok: bool) -> None:
    warning = plausibility.unusual_value_warning(analyte, value, plausibility.USUAL_RANGES[analyte])
    assert (warning is None) is ok


def test_the_usual_ranges_lie_inside_the_physical_ones() -> None:
    for code, usual in plausibility.USUAL_RANGES.items():
        physical = plausibility.PHYSICAL_RANGES[code]
        assert physical.low <= usual.low < usual.high <= physical.high, code


@pytest.mark.parametrize(
    ("days_back", "warns"),
    [(0, False), (plausibility.BACKDATED_DAYS, False), (plausibility.BACKDATED_DAYS + 1, True)],
)
def test_it_warns_about_an_injection_dated_more_than_3_days_back(now, days_back: int, warns: bool) -> None:
    given_at = now - datetime.timedelta(days=days_back)
    assert (plausibility.backdated_warning(given_at, now=now) is not None) is warns


@pytest.mark.parametrize(
    ("apart", "duplicate"),
    [
        (datetime.timedelta(0), True),
        (datetime.timedelta(hours=5, minutes=59), True),
        (datetime.timedelta(hours=6), False),
        (-datetime.timedelta(hours=5, minutes=59), True),
        (-datetime.timedelta(hours=6), False),
    ],
)
def test_a_duplicate_is_another_injection_less_than_6_hours_apart(now, apart, duplicate: bool) -> None:
    assert plausibility.is_duplicate_time(now, now + apart) is duplicate


# Injections through the actions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "part"),
    [
        ({"given_at": datetime.datetime(1899, 12, 31, 10, tzinfo=TZ)}, "given_at", "1900"),
        ({"given_at": datetime.datetime(1970, 5, 9, 10, tzinfo=TZ)}, "given_at", "birth date"),
        ({"lot_expiry": D("0001-01-01")}, "lot_expiry", "1900"),
        ({"dose_mcg": plausibility.DOSE_MAX_MCG + 1}, "dose_mcg", "cannot be a single dose"),
        ({"dose_mcg": 100000}, "dose_mcg", "cannot be a single dose"),
        ({"dose_mcg": "\u0663\u0660\u0660"}, "dose_mcg", "digits 0-9"),
        ({"dose_mcg": "1.5"}, "dose_mcg", "whole mcg"),
        ({"notes": "x" * (plausibility.NOTES_MAX + 1)}, "notes", "2000"),
    ],
)
def test_it_refuses_an_implausible_injection_naming_the_field(injection_kwargs, overrides, field, part) -> None:
    with refused(field, part):
        actions.injection_record(**{**injection_kwargs, **overrides})


def test_it_accepts_an_injection_at_each_hard_limit(injection_kwargs) -> None:
    injection = actions.injection_record(
        **{**injection_kwargs, "dose_mcg": plausibility.DOSE_MAX_MCG, "notes": "x" * plausibility.NOTES_MAX},
        confirmed=["dose"],
    )
    assert injection.dose_mcg == plausibility.DOSE_MAX_MCG
    born = actions.injection_record(
        **{**injection_kwargs, "given_at": datetime.datetime(1970, 5, 10, 12, tzinfo=TZ)},
        confirmed=["backdated", "before_previous"],
    )
    assert born.pk


@pytest.mark.parametrize(
    ("overrides", "codes"),
    [
        ({"dose_mcg": 999}, ["dose"]),
        ({"dose_mcg": 1001}, ["dose"]),
        ({"dose_mcg": "1000"}, []),
        ({"given_at": datetime.datetime(2026, 2, 26, 12, tzinfo=TZ)}, []),  # 3 days back
        ({"given_at": datetime.datetime(2026, 2, 25, 12, tzinfo=TZ)}, ["backdated"]),  # 4 days back
    ],
)
def test_it_asks_to_confirm_an_unusual_injection(injection_kwargs, overrides, codes) -> None:
    values = {**injection_kwargs, **overrides}
    if codes:
        with asks(*codes):
            actions.injection_record(**values)
    injection = actions.injection_record(**values, confirmed=codes)
    assert [w["code"] for w in injection.confirmed_warnings] == codes


def test_it_stores_who_confirmed_what_and_when(injection_kwargs, nurse, now) -> None:
    injection = actions.injection_record(**{**injection_kwargs, "dose_mcg": 5000}, confirmed=["dose"])
    injection.refresh_from_db()
    assert injection.confirmed_warnings == [
        {
            "code": "dose",
            "field": "dose_mcg",
            "message": "5000 mcg is not the dose of Monthly cyanocobalamin (default) (1000 mcg).",
            "by": "nina",
            "by_id": nurse.pk,
            "at": now.isoformat(),
        }
    ]


def test_it_asks_all_questions_at_once_and_a_partial_confirmation_saves_nothing(injection_kwargs) -> None:
    values = {**injection_kwargs, "dose_mcg": 5000, "given_at": datetime.datetime(2026, 2, 1, 12, tzinfo=TZ)}
    with asks("dose", "backdated"):
        actions.injection_record(**values, confirmed=["dose"])
    assert actions.injection_record(**values, confirmed=["dose", "backdated"]).pk


def test_it_asks_before_recording_an_injection_dated_before_the_latest(injection_kwargs, now) -> None:
    actions.injection_record(**injection_kwargs)  # 11:00
    earlier = {**injection_kwargs, "given_at": now - datetime.timedelta(hours=7)}  # 05:00: not a duplicate
    with asks("before_previous"):
        actions.injection_record(**earlier)


def test_the_duplicate_guard_names_when_and_by_whom_whatever_the_key(injection_kwargs) -> None:
    """A second loading dose 5 h 59 later is both a duplicate and early; 6 h later only early."""
    first = actions.injection_record(**injection_kwargs, submission_key=uuid.uuid4())  # given at 11:00
    later = first.given_at + datetime.timedelta(hours=5, minutes=59)
    again = {**injection_kwargs, "given_at": later, "now": later}
    with asks("duplicate", "early_dose"):
        actions.injection_record(**again, submission_key=uuid.uuid4(), confirmed=["early_dose"])
    try:
        actions.injection_record(**again, submission_key=uuid.uuid4())
    except NeedsConfirmation as question:
        duplicate = next(w for w in question.warnings if w.code == "duplicate")
        assert duplicate.message == "Already recorded: an injection at 11:00 by nina. Record another?"
        assert duplicate.message in question.message_dict["given_at"]
    six_hours = first.given_at + datetime.timedelta(hours=6)
    with asks("early_dose"):
        actions.injection_record(**{**injection_kwargs, "given_at": six_hours, "now": six_hours})


def test_a_voided_injection_is_no_duplicate(injection_kwargs, nurse) -> None:
    first = actions.injection_record(**injection_kwargs)
    actions.injection_void(injection=first, by=nurse, reason="wrong patient")
    assert actions.injection_record(**injection_kwargs).pk


def test_the_early_dose_warning_is_one_of_the_soft_warnings(injection_kwargs, now) -> None:
    """In loading, a dose 2 days after the previous one asks (the care status's early-dose rule)."""
    two_days_ago = {
        **injection_kwargs,
        "given_at": now - datetime.timedelta(days=2),
        "now": now - datetime.timedelta(days=2),
    }
    actions.injection_record(**two_days_ago)
    with asks("early_dose"):
        actions.injection_record(**injection_kwargs)
    injection = actions.injection_record(**injection_kwargs, confirmed=["early_dose"])
    assert injection.confirmed_warnings[0]["message"].startswith("Only 2 day(s) after the previous loading dose")


# Labs through the actions --------------------------------------------------------------------------


def _lab(patient: Patient, nurse, today, **overrides: Any) -> dict[str, Any]:
    return {
        "patient": patient,
        "analyte": "b12",
        "value": "300",
        "unit": "pg/mL",
        "collected_on": today,
        "entered_by": nurse,
        "today": today,
        **overrides,
    }


@pytest.mark.parametrize(
    ("overrides", "field", "part"),
    [
        ({"value": "1e309"}, "value", "digits 0-9"),
        ({"value": "nan"}, "value", "digits 0-9"),
        ({"value": "inf"}, "value", "digits 0-9"),
        ({"value": float("inf")}, "value", "finite"),
        ({"value": Decimal("1e309")}, "value", "outside what can be measured"),
        ({"value": "\u0663\u0660\u0660"}, "value", "digits 0-9"),
        ({"value": "50000.0001"}, "value", "outside what can be measured"),
        ({"value": "999999"}, "value", "outside what can be measured"),
        ({"value": "36900", "unit": "pmol/L"}, "value", "outside what can be measured"),  # 50014 pg/mL
        ({"analyte": "hemoglobin", "value": "0.9", "unit": "g/dL"}, "value", "outside what can be measured"),
        ({"collected_on": D("1899-12-31")}, "collected_on", "1900"),
        ({"collected_on": D("1970-05-09")}, "collected_on", "birth date"),
        ({"notes": "x" * (plausibility.NOTES_MAX + 1)}, "notes", "2000"),
    ],
)
def test_it_refuses_an_implausible_lab_result_naming_the_field(patient, nurse, today, overrides, field, part) -> None:
    with refused(field, part):
        actions.lab_result_record(**_lab(patient, nurse, today, **overrides))


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ("49.9999", ["unusual_value"]),
        ("50", []),
        ("2000", []),
        ("2000.0001", ["unusual_value"]),
        ("50000", ["unusual_value"]),
    ],
)
def test_it_asks_to_confirm_a_value_outside_the_usual_range(patient, nurse, today, value, codes) -> None:
    values = _lab(patient, nurse, today, value=value)
    if codes:
        with asks(*codes):
            actions.lab_result_record(**values)
    lab = actions.lab_result_record(**values, confirmed=codes)
    assert [w["code"] for w in lab.confirmed_warnings] == codes


def test_the_clinic_tunes_the_usual_range(patient, nurse, today) -> None:
    row = PlausibilityRange.objects.get(analyte="b12")
    row.high = Decimal("1500")
    row.save()
    with asks("unusual_value"):
        actions.lab_result_record(**_lab(patient, nurse, today, value="1600"))
    row.delete()  # no row: the built-in default applies
    assert actions.lab_result_record(**_lab(patient, nurse, today, value="1600")).pk


def test_it_asks_before_recording_the_same_lab_result_twice(patient, nurse, today) -> None:
    actions.lab_result_record(**_lab(patient, nurse, today, value="221.34", unit="pmol/L"))
    with asks("duplicate"):
        actions.lab_result_record(**_lab(patient, nurse, today, value="300"))  # the same in pg/mL
    assert actions.lab_result_record(**_lab(patient, nurse, today, value="301")).pk  # another value
    assert actions.lab_result_record(**_lab(patient, nurse, today, analyte="mma", value="300", unit="nmol/L")).pk
    assert actions.lab_result_record(**_lab(patient, nurse, today, value="300"), confirmed=["duplicate"]).pk


# Corrections and entered in error -------------------------------------------------------------------


def test_a_correction_checks_the_changed_fields_and_keeps_every_version(injection_kwargs, nurse, now) -> None:
    injection = actions.injection_record(**{**injection_kwargs, "dose_mcg": 5000}, confirmed=["dose"])
    with refused("dose_mcg", "cannot be a single dose"):
        actions.injection_correct(injection=injection, data={"dose_mcg": 100000}, by=nurse, reason="typo", now=now)
    with refused("reason", "Say why"):
        actions.injection_correct(injection=injection, data={"dose_mcg": 1000}, by=nurse, reason=" ", now=now)
    with refused("__all__", "Change at least one field"):
        actions.injection_correct(injection=injection, data={"dose_mcg": 5000}, by=nurse, reason="x", now=now)
    # Not back-dated: the date is compared with when the injection was first recorded.
    actions.injection_correct(
        injection=injection, data={"dose_mcg": 1000, "lot_number": "CY2601-02"}, by=nurse, reason="typo", now=now
    )
    assert list(Injection.history.order_by("history_id").values_list("dose_mcg", "history_change_reason")) == [
        (5000, None),
        (1000, "typo"),
    ]


def test_it_voids_instead_of_deleting_and_the_care_status_follows(injection_kwargs, nurse, physician, now) -> None:
    injection = actions.injection_record(**injection_kwargs)
    assert CareStatus.objects.get(patient=injection.patient).loading_doses_given == 1
    with refused("reason", "Say why"):
        actions.injection_void(injection=injection, by=nurse, reason="")
    actions.injection_void(injection=injection, by=nurse, reason="Recorded on the wrong chart", now=now)
    injection.refresh_from_db()
    assert (injection.voided_at, injection.voided_by, injection.void_reason) == (
        now,
        nurse,
        "Recorded on the wrong chart",
    )
    assert CareStatus.objects.get(patient=injection.patient).loading_doses_given == 0
    with refused("__all__", "entered in error"):
        actions.injection_void(injection=injection, by=physician, reason="again")
    with refused("__all__", "entered in error"):
        actions.injection_correct(injection=injection, data={"site": "right_thigh"}, by=nurse, reason="x")
    assert Injection.objects.count() == 1


def test_a_voided_lab_leaves_the_engine_and_a_corrected_one_is_rechecked(patient, nurse, today) -> None:
    lab = actions.lab_result_record(**_lab(patient, nurse, today, value="120"))
    assert CareStatus.objects.get(patient=patient).latest_b12 == Decimal("120")
    with asks("unusual_value"):
        actions.lab_result_correct(lab=lab, value="12", unit="pg/mL", by=nurse, reason="typo", today=today)
    assert LabResult.objects.get().value_entered == Decimal("120")
    actions.lab_result_correct(lab=lab, value="420", unit="pg/mL", by=nurse, reason="misread", today=today)
    assert CareStatus.objects.get(patient=patient).latest_b12 == Decimal("420")
    actions.lab_result_void(lab=lab, by=nurse, reason="another patient's result")
    assert CareStatus.objects.get(patient=patient).latest_b12 is None
    assert LabResult.history.count() == 3


def test_only_staff_with_the_permission_correct_or_void(injection_kwargs, stranger) -> None:
    injection = actions.injection_record(**injection_kwargs)
    with pytest.raises(PermissionDenied):
        actions.injection_void(injection=injection, by=stranger, reason="x")
    with pytest.raises(PermissionDenied):
        actions.injection_correct(injection=injection, data={"site": "right_thigh"}, by=stranger, reason="x")
    assert Injection.history.count() == 1


def test_units_reach_every_analyte() -> None:
    assert set(plausibility.PHYSICAL_RANGES) == set(units.ANALYTES)
