"""What the import's bulk path (patients.bulk.RecordBulk, clinic.actions.record_bulk_write) does
differently from one action a row, and must still get right: each row checked against the rows above
it and the record read once, the same messages as the services, history rows, a constant number of
queries, and a refusal by the database itself reported with nothing saved."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Clinic
from clinic import actions
from exchange.importer import IMPORT_REASON
from patients.bulk import RecordBulk
from patients.models import Injection, LabResult, Patient, PlausibilityRange, Regimen, SymptomCheck
from patients.plausibility import CODES, NeedsConfirmation

from .conftest import PATIENTS

pytestmark = pytest.mark.django_db

# R-1's injections in the order of the file: the second is dated before the first, the third six
# hours or less after the first, the fourth is not the profile's dose.
INJECTIONS = [
    ("2024-01-04 09:30", 1000),
    ("2024-01-02 08:00", 1000),
    ("2024-01-04 13:00", 1000),
    ("2024-02-04 09:00", 500),
]


def test_it_warns_about_each_row_as_the_services_warn_one_at_a_time(write, run_import, clinic_admin):
    assert run_import("--patients", str(write("p.csv", PATIENTS))).code == 0
    text = "mrn,given_at,dose_mcg\n" + "".join(f"R-1,{at},{dose}\n" for at, dose in INJECTIONS)
    held = run_import("--injections", str(write("i.csv", text)), "--dry-run")
    assert held.code == 3
    # The same rows through the service, one after the other, each confirmed once it has warned.
    expected = []
    ada = Patient.objects.get(mrn="R-1")
    for number, (at, dose) in enumerate(INJECTIONS, start=2):
        arguments: dict[str, Any] = {
            "patient": ada,
            "given_at": timezone.make_aware(datetime.datetime.fromisoformat(at)),
            "drug": "cyanocobalamin",
            "dose_mcg": dose,
            "route": "im",
            "site": "",
            "lot_number": "",
            "lot_expiry": None,
            "given_by": clinic_admin,
            "history": True,
        }
        try:
            actions.injection_record(**arguments)
        except NeedsConfirmation as asked:
            expected += [f"i.csv row {number}, column {w.field}: warning: {w.message}" for w in asked.warnings]
            actions.injection_record(**arguments, confirmed=CODES)
    assert [p for p in held.problems if "warning" in p] == expected
    assert len(expected) == 3  # before the latest, the twin within six hours, the dose


def test_it_reads_the_clinics_usual_range_once_and_applies_it(write, run_import):
    PlausibilityRange.objects.update_or_create(analyte="b12", defaults={"low": Decimal("100"), "high": Decimal("900")})
    labs = "mrn,collected_on,analyte,value,unit\nR-1,2024-01-20,b12,950,pg/mL\nR-1,2024-02-20,b12,850,pg/mL\n"
    result = run_import("--patients", str(write("p.csv", PATIENTS)), "--labs", str(write("l.csv", labs)))
    assert result.code == 3
    assert result.problems == [
        "l.csv row 2, column value: warning: 950 pg/mL is outside the usual range of Vitamin B12 (100-900 pg/mL): "
        "is it right?"
    ]


def test_it_refuses_a_row_the_same_as_one_above_in_every_file(write, run_import):
    labs = "mrn,collected_on,analyte,value,unit\nR-1,2024-01-20,b12,120,pg/mL\nR-1,2024-01-20,b12,120.0,pg/mL\n"
    symptoms = "mrn,checked_on,neurological,depression\nR-1,2024-01-20,yes,no\nR-1,2024-01-20,y,n\n"
    result = run_import(
        *("--patients", str(write("p.csv", PATIENTS))),
        *("--labs", str(write("l.csv", labs))),
        *("--symptoms", str(write("s.csv", symptoms))),
    )
    assert result.code == 2
    assert result.problems == [
        "l.csv row 3, column value: the same as row 2: a row may appear only once.",
        "s.csv row 3, column checked_on: the same as row 2: a row may appear only once.",
    ]
    assert not Patient.objects.exists()


def test_it_refuses_a_record_number_taken_in_another_clinic(write, run_import, make_patient):
    ours = Clinic.objects.get()
    south = Clinic.objects.create(name="South", slug="south")
    make_patient(mrn="R-2", clinic=south, by=None)
    result = run_import("--patients", str(write("p.csv", PATIENTS)), "--clinic", ours.slug)
    assert result.code == 2, result.err
    assert result.problems == ["p.csv row 3, column mrn: Patient with this Medical record number already exists."]
    assert list(Patient.objects.values_list("mrn", "clinic__slug")) == [("R-2", "south")]


def test_it_reports_rows_the_database_refuses_after_the_checks_and_saves_nothing(write, run_import, monkeypatch):
    """A patient registered between the import's reading and its writing (a race the checks cannot
    see): the database's unique index refuses the write, and the import reports it and saves nothing."""
    read = RecordBulk.patients_by_mrn

    def read_then_someone_registers(self: RecordBulk, mrns: Any, *, clinic: Clinic) -> dict[str, Patient]:
        found = read(self, mrns, clinic=clinic)
        if "R-2" in mrns:
            actions.patient_create(
                mrn="R-2", given_name="Al", family_name="T", birth_date=datetime.date(1954, 6, 23), sex="male"
            )
        return found

    monkeypatch.setattr(RecordBulk, "patients_by_mrn", read_then_someone_registers)
    result = run_import("--patients", str(write("p.csv", PATIENTS)))
    assert result.code == 2
    assert "p.csv: the database refused the rows:" in result.err
    assert not Patient.objects.exists()


def test_it_writes_a_history_row_for_every_entry(write, run_import, clinic_admin):
    injections = "mrn,given_at\nR-1,2024-01-02\nR-1,2024-02-02\nR-2,2024-02-01\n"
    labs = "mrn,collected_on,analyte,value,unit\nR-1,2023-12-20,b12,120,pg/mL\n"
    symptoms = "mrn,checked_on,neurological,depression\nR-1,2023-12-20,yes,no\n"
    result = run_import(
        *("--patients", str(write("p.csv", PATIENTS))),
        *("--injections", str(write("i.csv", injections))),
        *("--labs", str(write("l.csv", labs))),
        *("--symptoms", str(write("s.csv", symptoms))),
    )
    assert result.code == 0, result.err
    for model in (Patient, Regimen, Injection, LabResult, SymptomCheck):
        rows = model.objects.all()
        history = model.history.all()  # type: ignore[attr-defined]
        assert history.count() == rows.count() > 0, model
        assert {(h.history_type, h.history_user_id) for h in history} == {("+", clinic_admin.pk)}
        assert {h.id for h in history} == {row.pk for row in rows}
    assert set(Patient.history.values_list("history_change_reason", flat=True)) == {IMPORT_REASON}
    first = Injection.history.get(
        id=Injection.objects.order_by("given_at").first().pk
    )  # id: the entry's; pk: the history row's
    assert first.imported and first.given_by_id == clinic_admin.pk


def _register(write: Callable[..., Any], prefix: str, patients: int) -> list[str]:
    people = "mrn,first_name,last_name,birth_date\n" + "".join(
        f"{prefix}{n},Pat,Number {n},1960-01-01\n" for n in range(patients)
    )
    injections = "mrn,given_at\n" + "".join(
        f"{prefix}{n},2024-{month:02d}-01 10:00\n" for n in range(patients) for month in range(1, 11)
    )
    labs = "mrn,collected_on,analyte,value,unit\n" + "".join(
        f"{prefix}{n},2024-{month:02d}-01,b12,{300 + month},pg/mL\n" for n in range(patients) for month in range(1, 6)
    )
    return [
        *("--patients", str(write(f"{prefix}p.csv", people))),
        *("--injections", str(write(f"{prefix}i.csv", injections))),
        *("--labs", str(write(f"{prefix}l.csv", labs))),
    ]


def _counted(queries: list[dict[str, Any]]) -> int:
    """The statements that must not grow with the rows. PostgreSQL: every one (rows go in by COPY, not
    counted, one id query a table a chunk). SQLite caps a statement at 999 parameters, so Django splits
    a bulk INSERT into one a few dozen rows there: its INSERTs are left out."""
    if connection.vendor == "postgresql":
        return len(queries)
    return len([q for q in queries if not q["sql"].startswith("INSERT")])


def test_it_takes_as_many_queries_for_ten_times_the_rows(write, run_import, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as small:
        assert run_import(*_register(write, "S", 4)).code == 0
    with CaptureQueriesContext(connection) as large:
        result = run_import(*_register(write, "L", 40))
    assert result.code == 0, result.err
    assert result.out.splitlines()[1] == "injections: 400 created, 0 updated, 0 unchanged"
    assert Injection.objects.filter(patient__mrn__startswith="L").count() == 400
    assert _counted(large.captured_queries) == _counted(small.captured_queries)
    if connection.vendor == "postgresql":
        with django_assert_max_num_queries(len(small.captured_queries)):
            assert run_import(*_register(write, "M", 80)).code == 0


CARRIED = "mrn,first_name,last_name,birth_date,oral_since,oral_dose_mcg,discharge_reason,discharge_note\n"


def test_it_carries_a_new_patients_regimen_and_discharge_over_with_their_history(write, run_import, clinic_admin):
    people = CARRIED + "R-1,Ada,L,1960-01-01,2024-05-01,1000,,\nR-2,Alan,T,1954-06-23,,,moved_away,To Leeds\n"
    result = run_import(
        "--patients", str(write("p.csv", people)), "--injections", str(write("i.csv", "mrn,given_at\nR-2,2024-02-01\n"))
    )
    assert result.code == 0, result.err
    ada, alan = Patient.objects.get(mrn="R-1"), Patient.objects.get(mrn="R-2")
    assert (ada.regimen.oral_since, ada.regimen.oral_dose_mcg) == (datetime.date(2024, 5, 1), 1000)
    assert list(ada.regimen.history.values_list("history_type", "oral_since")) == [("+", datetime.date(2024, 5, 1))]
    assert (alan.is_active, alan.discharge_reason, alan.discharge_note) == (False, "moved_away", "To Leeds")
    assert sorted(alan.history.values_list("history_type", "is_active", "history_change_reason")) == [
        ("+", True, IMPORT_REASON),
        ("~", False, "Discharged: Moved away"),
    ]
    assert alan.injections.count() == 1  # checked while Alan was in care
    assert alan.care_status.patient_active is False


def test_it_refuses_a_new_patients_regimen_as_the_service_does_and_saves_nothing(write, run_import):
    people = CARRIED + "R-1,Ada,L,1960-01-01,2024-05-01,500,,\n"
    result = run_import("--patients", str(write("p.csv", people)))
    assert result.code == 2
    assert result.problems == ["p.csv row 2, column oral_dose_mcg: Ensure this value is greater than or equal to 1000."]
    assert not Patient.objects.exists() and not Regimen.objects.exists()
