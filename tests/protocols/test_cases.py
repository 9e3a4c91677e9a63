"""The worked cases of ../shared/protocol/cases (copied into cases/ here) through `evaluate_case`,
and the command's contract: lists, errors on stderr with the field named, exit status 2."""

from __future__ import annotations

import io
import json
import os
import pathlib
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

CASES_DIR = pathlib.Path(__file__).parent / "cases"
# Cases written by an independent reading of GUIDANCE.md (expected results worked out by hand).
REVIEW_DIR = pathlib.Path(__file__).parent / "review_cases"
CASE_FILES = sorted(CASES_DIR.glob("*.json")) + sorted(REVIEW_DIR.glob("*.json"))
ROOT = pathlib.Path(__file__).resolve().parents[2]
EQUAL = [
    "phase",
    "loading_doses_given",
    "maintenance_interval_months",
    "maintenance_interval_days",
    "maintenance_start",
    "next_injection_due",
    "next_recheck_due",
]


def problems(expect: dict, got: dict) -> list[str]:
    """What CONTRACT.md says a case checks: equality, set equality, rules and alerts included/excluded."""
    found = [
        f"{key}: {got.get(key)!r} != {expect[key]!r}" for key in EQUAL if key in expect and got.get(key) != expect[key]
    ]
    if "recheck_labs" in expect and set(got["recheck_labs"]) != set(expect["recheck_labs"]):
        found.append(f"recheck_labs: {got['recheck_labs']} != {expect['recheck_labs']}")
    if "verdict" in expect and got["discontinuation"]["verdict"] != expect["verdict"]:
        found.append(f"verdict: {got['discontinuation']['verdict']} != {expect['verdict']}")
    if set(expect.get("discontinuation_rules_include", [])) - set(got["discontinuation"]["rules"]):
        found.append(f"discontinuation.rules: {got['discontinuation']['rules']}")
    if set(expect.get("discontinuation_rules_exclude", [])) & set(got["discontinuation"]["rules"]):
        found.append(f"discontinuation.rules must not include: {got['discontinuation']['rules']}")
    if "unmet" in expect and sorted(got["discontinuation"]["unmet"]) != sorted(expect["unmet"]):
        found.append(f"unmet: {got['discontinuation']['unmet']} != {expect['unmet']}")
    fired = {alert["rule"] for alert in got["alerts"]}
    if set(expect.get("alerts_include", [])) - fired or set(expect.get("alerts_exclude", [])) & fired:
        found.append(f"alerts: {sorted(fired)}")
    return found


def run(payload: object) -> object:
    out = io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO(json.dumps(payload))
    try:
        call_command("evaluate_case", "-", stdout=out)
    finally:
        sys.stdin = stdin
    return json.loads(out.getvalue())


def load(path: pathlib.Path) -> dict:
    return json.loads(path.read_text())


def test_it_has_the_shared_cases() -> None:
    assert len(sorted(CASES_DIR.glob("*.json"))) >= 14 and len(sorted(REVIEW_DIR.glob("*.json"))) >= 100
    shared = ROOT.parent / "shared" / "protocol" / "cases"
    if shared.is_dir():  # our copies stay identical to the shared ones
        for path in sorted(shared.glob("*.json")):
            assert (CASES_DIR / path.name).read_text() == path.read_text(), path.name


@pytest.mark.django_db
@pytest.mark.parametrize("path", [p for p in CASE_FILES if not load(p)["expect"].get("error")], ids=lambda p: p.stem)
def test_it_passes_each_worked_case(path: pathlib.Path) -> None:
    doc = load(path)
    assert problems(doc["expect"], run(doc["case"])) == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", [p for p in CASE_FILES if load(p)["expect"].get("error")], ids=lambda p: p.stem)
def test_it_refuses_each_invalid_case_naming_the_field(path: pathlib.Path) -> None:
    doc = load(path)
    with pytest.raises(CommandError) as raised:
        run(doc["case"])
    assert doc["expect"]["error_mentions"] in str(raised.value)
    assert raised.value.returncode == 2


@pytest.mark.django_db
def test_it_evaluates_a_list_in_order() -> None:
    docs = [load(p) for p in CASE_FILES if not load(p)["expect"].get("error")]
    results = run([doc["case"] for doc in docs])
    assert isinstance(results, list) and len(results) == len(docs)
    for doc, got in zip(docs, results, strict=True):
        assert problems(doc["expect"], got) == [], doc["name"]


def _valid_case() -> dict:
    return load(CASES_DIR / "012-not-started.json")["case"]


def _with(change: dict) -> dict:
    case = json.loads(json.dumps(_valid_case()))
    for path, value in change.items():
        target = case
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
        last = keys[-1]
        if value is KeyError:
            target.pop(last)
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return case


INVALID = [
    ({"as_of": KeyError}, "as_of: is required"),
    ({"as_of": "2026-02-30"}, "as_of: '2026-02-30' is not a valid date"),
    ({"as_of": "08/01/2026"}, "as_of: '08/01/2026' is not a date"),
    ({"patient.causes": [{"code": "gastritis"}]}, "patient.causes[0].code"),
    ({"patient.causes": [{"code": "ileal_resection"}]}, "patient.causes[0].length_cm: is required"),
    ({"patient.causes": [{"code": "ppi"}]}, "patient.causes[0].start: is required"),
    (
        {"patient.causes": [{"code": "ppi", "start": "2026-01-09"}]},
        "patient.causes[0].start: 2026-01-09 is after as_of",
    ),
    ({"patient.causes": [{"code": "bariatric_surgery", "procedure": "band"}]}, "patient.causes[0].procedure"),
    ({"patient.pregnancy": "maybe"}, "patient.pregnancy"),
    ({"patient.dietary_intake_adequate": "yes"}, "patient.dietary_intake_adequate"),
    ({"regimen": {"profile": "weekly-magic"}}, "regimen.profile: 'weekly-magic' is not a known profile"),
    ({"labs.0.value": -1}, "labs[0].value: -1 is negative"),
    ({"labs.0.value": "95"}, "labs[0].value: '95' is not a number"),
    ({"labs.0.analyte": "b13"}, "labs[0].analyte"),
    ({"labs.0.unit": "mg"}, "labs[0].unit: 'mg' is not a unit for b12"),
    ({"labs.0.date": "2026-01-09"}, "labs[0].date: 2026-01-09 is after as_of"),
    ({"injections": [{"date": "2026-01-09"}]}, "injections[0].date: 2026-01-09 is after as_of"),
    ({"injections": [{"date": "2026-01-01", "drug": "aspirin"}]}, "injections[0].drug"),
    ({"symptoms": [{"date": "2026-01-09", "neurological": True}]}, "symptoms[0].date"),
    ({"medications": [{"name": "folic_acid", "start": "2026-02-01"}]}, "medications[0].start"),
    ({"medications": [{"name": "folic_acid"}]}, "medications[0].start: is required"),
    ({"regimen": {"maintenance_interval_days": 2}}, "regimen.maintenance_interval_days: 2 is not a whole number"),
    ({"regimen": {"maintenance_interval_days": 91}}, "regimen.maintenance_interval_days: 91 is not a whole number"),
    (
        {"regimen": {"maintenance_interval_months": 1, "maintenance_interval_days": 14}},
        "regimen.maintenance_interval_days: cannot be set together with regimen.maintenance_interval_months",
    ),
    ({"regimen": {"recheck_on": "2026-02-30"}}, "regimen.recheck_on: '2026-02-30' is not a valid date"),
    (
        {"patient.causes": [{"code": "ileal_resection", "length_cm": -0.5}]},
        "patient.causes[0].length_cm: -0.5 is negative",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "message"), INVALID, ids=[m for _, m in INVALID])
def test_it_names_the_offending_field(change: dict, message: str) -> None:
    with pytest.raises(CommandError) as raised:
        run(_with(change))
    assert message in str(raised.value)


@pytest.mark.django_db
def test_it_accepts_the_micro_sign_and_a_future_stop_date() -> None:
    case = _with(
        {
            "labs": [{"date": "2026-01-02", "analyte": "mma", "value": 0.3, "unit": "µmol/L"}],
            "medications": [{"name": "folic_acid", "start": "2026-01-01", "stop": "2026-06-01"}],
        }
    )
    assert run(case)["phase"] == "not_started"


@pytest.mark.django_db
def test_it_refuses_a_whole_list_when_one_case_is_bad() -> None:
    with pytest.raises(CommandError) as raised:
        run([_valid_case(), _with({"labs.0.unit": "mg/dL"})])
    assert "[1].labs[0].unit" in str(raised.value)


def _cli(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBUG": "1"}
    return subprocess.run(
        [sys.executable, "manage.py", "evaluate_case", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_it_exits_2_with_nothing_on_stdout_for_bad_input() -> None:
    proc = _cli(json.dumps(_with({"labs.0.unit": "mg/dL"})), "-")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "labs[0].unit: 'mg/dL' is not a unit for b12" in proc.stderr


def test_it_exits_2_on_malformed_json_and_missing_files() -> None:
    proc = _cli("{not json", "-")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "not valid JSON" in proc.stderr
    proc = _cli("", str(ROOT / "no-such-case.json"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "cannot read" in proc.stderr


def test_it_reads_a_file_path() -> None:
    proc = _cli("", str(CASES_DIR / "002-pernicious-first-recheck-done.json"))
    # The file holds a case *document*; the command wants the case itself, so it names the missing field.
    assert proc.returncode == 2 and "as_of" in proc.stderr
    case_file = ROOT / "var" / "test-case-002.json"
    case_file.parent.mkdir(exist_ok=True)
    case_file.write_text(json.dumps(load(CASES_DIR / "002-pernicious-first-recheck-done.json")["case"]))
    try:
        proc = _cli("", str(case_file))
    finally:
        case_file.unlink()
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["next_recheck_due"] == "2025-08-24"
