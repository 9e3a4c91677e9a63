"""The case contract's new fields and number rules (CONTRACT.md), through the pure parser: cases are
read from JSON text exactly as `evaluate_case` reads them (floats as Decimal), no Django needed."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from protocols.engine import units
from protocols.engine.cases import CaseError, evaluate_cases
from protocols.engine.profiles import BUILTIN_PROFILES

# Pernicious anemia, loading 3-24 Jan 2025 and the first maintenance dose on 24 Feb 2025 (M).
BASE: dict[str, Any] = {
    "as_of": "2025-06-01",
    "patient": {"birth_date": "1970-05-10", "causes": [{"code": "pernicious_anemia"}]},
    "regimen": {},
    "injections": [{"date": day} for day in ("2025-01-03", "2025-01-10", "2025-01-17", "2025-01-24", "2025-02-24")],
}


def case(text: str) -> Any:
    """A case from JSON text: `regimen`, `patient`, `labs`... replace those of BASE."""
    return {**BASE, **json.loads(text, parse_float=Decimal)}


def evaluate(text: str) -> dict[str, Any]:
    return evaluate_cases(case(text), BUILTIN_PROFILES)


def alerts(result: dict[str, Any]) -> set[str]:
    return {alert["rule"] for alert in result["alerts"]}


VALID = [
    # (JSON, what the evaluation must hold)
    ('{"regimen": {"maintenance_interval_days": 3}}', {"maintenance_interval_days": 3}),
    ('{"regimen": {"maintenance_interval_days": 90}}', {"maintenance_interval_days": 90}),
    (
        '{"regimen": {"maintenance_interval_days": 14.0}}',
        {"maintenance_interval_days": 14, "maintenance_interval_months": None, "next_injection_due": "2025-03-10"},
    ),
    (
        '{"regimen": {"maintenance_interval_months": null, "maintenance_interval_days": 14}}',
        {"maintenance_interval_days": 14},
    ),
    (
        '{"regimen": {"maintenance_interval_months": 2.0}}',
        {"maintenance_interval_months": 2, "maintenance_interval_days": None, "next_injection_due": "2025-04-24"},
    ),
    (
        '{"regimen": {"recheck_on": "2025-04-15"}}',
        {"next_recheck_due": "2025-04-15", "recheck_override_in_force": True},
    ),
    ('{"regimen": {"recheck_on": null}}', {"next_recheck_due": "2025-05-24", "recheck_override_in_force": False}),
    ('{"injections": [{"date": "2025-01-03", "dose_mcg": 1000.0}]}', {"phase": "loading"}),
]


@pytest.mark.parametrize(("text", "expect"), VALID, ids=[text for text, _ in VALID])
def test_it_accepts_the_new_fields_and_whole_numbers_written_with_a_point(text: str, expect: dict) -> None:
    result = evaluate(text)
    for key, value in expect.items():
        assert result[key] == value, key


INVALID = [
    # (JSON, what stderr must say)
    ('{"regimen": {"maintenance_interval_days": 2}}', "regimen.maintenance_interval_days: 2 is not a whole number"),
    ('{"regimen": {"maintenance_interval_days": 91}}', "regimen.maintenance_interval_days: 91 is not a whole number"),
    ('{"regimen": {"maintenance_interval_days": 14.5}}', "regimen.maintenance_interval_days: 14.5 is not a whole"),
    ('{"regimen": {"maintenance_interval_days": "14"}}', "regimen.maintenance_interval_days: '14' is not a whole"),
    ('{"regimen": {"maintenance_interval_days": true}}', "regimen.maintenance_interval_days: true is not a whole"),
    (
        '{"regimen": {"maintenance_interval_months": 1, "maintenance_interval_days": 14}}',
        "regimen.maintenance_interval_days: cannot be set together with regimen.maintenance_interval_months",
    ),
    ('{"regimen": {"recheck_on": "2025-02-30"}}', "regimen.recheck_on: '2025-02-30' is not a valid date"),
    ('{"regimen": {"recheck_on": "1 June"}}', "regimen.recheck_on: '1 June' is not a date"),
    ('{"regimen": {"maintenance_interval_months": 1.5}}', "regimen.maintenance_interval_months: 1.5 is not a whole"),
    ('{"injections": [{"date": "2025-01-03", "dose_mcg": 999.5}]}', "injections[0].dose_mcg: 999.5 is not a whole"),
    (
        '{"patient": {"causes": [{"code": "ileal_resection", "length_cm": -20.5}]}}',
        "patient.causes[0].length_cm: -20.5 is negative",
    ),
    (
        '{"patient": {"causes": [{"code": "crohns_ileal", "length_cm": "40"}]}}',
        "patient.causes[0].length_cm: '40' is not a number",
    ),
    (
        '{"labs": [{"date": "2025-05-20", "analyte": "b12", "value": -0.5, "unit": "pg/mL"}]}',
        "labs[0].value: -0.5 is negative",
    ),
]


@pytest.mark.parametrize(("text", "message"), INVALID, ids=[message for _, message in INVALID])
def test_it_refuses_bad_new_fields_naming_the_field_and_the_number_as_written(text: str, message: str) -> None:
    with pytest.raises(CaseError) as raised:
        evaluate(text)
    assert message in str(raised.value)
    assert "Decimal(" not in str(raised.value)


LENGTHS = [
    # (cause, length as written in JSON, rules that must / must not apply)
    ("ileal_resection", "20.5", {"STOP-ILEAL"}, set()),
    ("ileal_resection", "20.0", set(), {"STOP-ILEAL"}),
    ("ileal_resection", "20", set(), {"STOP-ILEAL"}),
    ("ileal_resection", "20.01", {"STOP-ILEAL"}, set()),
    ("crohns_ileal", "30.5", {"STOP-CROHN"}, set()),
    ("crohns_ileal", "30.0", set(), {"STOP-CROHN"}),
]


@pytest.mark.parametrize(("code", "length", "fires", "misses"), LENGTHS, ids=[f"{c} {n} cm" for c, n, _, _ in LENGTHS])
def test_it_reads_a_fractional_length(code: str, length: str, fires: set[str], misses: set[str]) -> None:
    result = evaluate(f'{{"patient": {{"causes": [{{"code": "{code}", "length_cm": {length}}}]}}}}')
    assert fires <= set(result["rules"]) and not misses & set(result["rules"])
    if code == "ileal_resection":
        assert (result["because"]["suggested_interval_months"] == ["SCHED-ILEAL"]) is bool(fires)


def lab(analyte: str, value: str, unit: str) -> str:
    return f'{{"labs": [{{"date": "2025-05-20", "analyte": "{analyte}", "value": {value}, "unit": "{unit}"}}]'


EXACT = [
    # (analyte, value as written, unit, extra JSON, alerts that must / must not fire). The value 4-decimal
    # rounding would put on the other side of the threshold is the first of each pair.
    ("b12", "132.80399", "pmol/L", "", {"ALERT-B12-LOW"}, {"ALERT-B12-BORDERLINE"}),
    ("b12", "132.804", "pmol/L", "", {"ALERT-B12-BORDERLINE"}, {"ALERT-B12-LOW"}),
    ("b12", "258.23001", "pmol/L", "", set(), {"ALERT-B12-BORDERLINE"}),
    ("b12", "258.23", "pmol/L", "", {"ALERT-B12-BORDERLINE"}, set()),
    ("b12", "179.99999", "pg/mL", "", {"ALERT-B12-LOW"}, {"ALERT-B12-BORDERLINE"}),
    ("mma", "0.27099999", "umol/L", "", set(), {"ALERT-FUNCTIONAL-DEFICIENCY"}),
    ("mma", "0.271", "umol/L", "", {"ALERT-FUNCTIONAL-DEFICIENCY"}, set()),
    ("vitamin_d", "30.04807", "ng/mL", "bariatric", {"ALERT-VITAMIN-D-LOW"}, set()),
    ("vitamin_d", "30.0481", "ng/mL", "bariatric", set(), {"ALERT-VITAMIN-D-LOW"}),
    ("folate", "6.79799", "nmol/L", "folic", set(), {"ALERT-FOLIC-NO-DEFICIENCY"}),
    ("folate", "6.798", "nmol/L", "folic", {"ALERT-FOLIC-NO-DEFICIENCY"}, set()),
]


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "extra", "fires", "misses"), EXACT, ids=[f"{a} {v} {u}" for a, v, u, *_ in EXACT]
)
def test_it_compares_the_exact_converted_value(
    analyte: str, value: str, unit: str, extra: str, fires: set[str], misses: set[str]
) -> None:
    text = lab(analyte, value, unit)
    if extra == "bariatric":
        text += ', "patient": {"causes": [{"code": "bariatric_surgery", "procedure": "sleeve"}]}'
    if extra == "folic":
        text += ', "medications": [{"name": "folic_acid", "start": "2025-03-01"}]'
    result = evaluate(text + "}")
    assert fires <= alerts(result) and not misses & alerts(result), alerts(result)


def test_it_shows_a_lab_value_as_written_and_rounds_only_for_display() -> None:
    result = evaluate(lab("b12", "132.80399", "pmol/L") + "}")
    low = next(alert for alert in result["alerts"] if alert["rule"] == "ALERT-B12-LOW")
    assert "132.80399 pmol/L (about 180 pg/mL)" in low["message"]
    result = evaluate(lab("b12", "180.0", "pg/mL") + "}")
    borderline = next(alert for alert in result["alerts"] if alert["rule"] == "ALERT-B12-BORDERLINE")
    assert "B12 of 180.0 pg/mL on 2025-05-20" in borderline["message"]


CONVERSIONS = [
    # (analyte, value, unit, exact canonical, stored canonical)
    ("b12", "132.80399", "pmol/L", None, "180.0000"),
    ("b12", "132.804", "pmol/L", "180", "180.0000"),
    ("b12", "258.23", "pmol/L", "350", "350.0000"),
    ("b12", "453", "pg/mL", "453", "453.0000"),
    ("vitamin_d", "30.04807", "ng/mL", "74.99998272", "75.0000"),
    ("mma", "0.27099999", "umol/L", "270.99999", "271.0000"),
]


@pytest.mark.parametrize(("analyte", "value", "unit", "exact", "stored"), CONVERSIONS)
def test_it_converts_exactly_and_rounds_only_for_storage(
    analyte: str, value: str, unit: str, exact: str | None, stored: str
) -> None:
    got = units.to_canonical_exact(analyte, value, unit)
    if exact is not None:
        assert got == Decimal(exact)
    else:
        assert got < Decimal(180) and got > Decimal("179.9999")
    assert str(units.to_canonical(analyte, value, unit)) == stored
    assert units.round_for_storage(got) == Decimal(stored)
