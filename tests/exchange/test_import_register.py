"""manage.py import_register, as FORMAT.md (../shared/import/FORMAT.md) describes it."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from typing import Any

import openpyxl
import pytest

from care.models import CareStatus
from exchange.models import ImportRun
from patients.models import Cause, Injection, LabResult, Patient, SymptomCheck

from .conftest import CAUSES, INJECTIONS, LABS, PATIENTS, SYMPTOMS

pytestmark = pytest.mark.django_db


def _all(write: Callable[..., Any]) -> list[str]:
    return [
        *("--patients", str(write("patients.csv", PATIENTS))),
        *("--causes", str(write("causes.csv", CAUSES))),
        *("--injections", str(write("injections.csv", INJECTIONS))),
        *("--labs", str(write("labs.csv", LABS))),
        *("--symptoms", str(write("symptoms.csv", SYMPTOMS))),
    ]


def test_it_imports_a_file_that_is_all_good(write, run_import):
    result = run_import(*_all(write))
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "patients: 2 created, 0 updated, 0 unchanged",
        "causes: 2 created, 0 updated, 0 unchanged",
        "injections: 3 created, 0 updated, 0 unchanged",
        "labs: 2 created, 0 updated, 0 unchanged",
        "symptoms: 1 created, 0 updated, 0 unchanged",
    ]
    ada = Patient.objects.get(mrn="R-1")
    assert (ada.given_name, ada.sex, ada.email_reminders_consent) == ("Ada", "female", True)
    assert Cause.objects.get(patient__mrn="R-2").length_cm == 40
    first = Injection.objects.filter(patient=ada).order_by("given_at").first()
    assert first.imported and first.given_by_name == "Nurse Ratched" and first.site == "left_deltoid"
    assert first.dose_mcg == ada.regimen.profile.dose_mcg and first.drug == ada.regimen.profile.drug
    assert Injection.objects.get(patient__mrn="R-2").lot_number == ""
    assert LabResult.objects.get(patient__mrn="R-2").unit_entered == "pmol/L"
    assert SymptomCheck.objects.get().neurological is True
    assert CareStatus.objects.filter(patient__mrn__in=["R-1", "R-2"]).count() == 2
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.SAVED and len(run.files[0]["sha256"]) == 64


def test_it_changes_nothing_when_the_same_files_come_again(write, run_import):
    assert run_import(*_all(write)).code == 0
    again = run_import(*_all(write))
    assert again.code == 0, again.err
    assert all(" 0 created, 0 updated" in line for line in again.out.splitlines()), again.out
    assert Injection.objects.count() == 3 and LabResult.objects.count() == 2


def test_it_updates_a_patient_whose_row_changed(write, run_import):
    assert run_import("--patients", str(write("p.csv", PATIENTS))).code == 0
    changed = PATIENTS.replace("Alan,Turing", "Alan M.,Turing")
    result = run_import("--patients", str(write("p.csv", changed)))
    assert result.out.strip() == "patients: 0 created, 1 updated, 1 unchanged"
    assert Patient.objects.get(mrn="R-2").given_name == "Alan M."


def test_it_saves_nothing_of_a_mixed_file(write, run_import):
    bad_labs = LABS + "R-1,2024-01-20,b12,abc,pg/mL,\n"
    args = _all(write)
    args[args.index("--labs") + 1] = str(write("labs.csv", bad_labs))
    result = run_import(*args)
    assert result.code == 2
    assert result.problems == ["labs.csv row 4, column value: 'abc' is not a number"]
    assert not Patient.objects.exists() and not Injection.objects.exists()
    assert ImportRun.objects.get().status == ImportRun.Status.REFUSED


def test_it_reports_and_saves_nothing_on_a_dry_run(write, run_import):
    result = run_import(*_all(write), "--dry-run")
    assert result.code == 0
    assert result.out.splitlines()[0] == "patients: 2 created, 0 updated, 0 unchanged"
    assert not Patient.objects.exists()


P = "mrn,first_name,last_name,birth_date,sex,email,email_consent,profile,pregnancy\n"
OK = "R-9,Grace,Hopper,1906-12-09,f,,no,,none\n"


@pytest.mark.parametrize(
    ("name", "header", "row", "expected"),
    [
        ("patients", P, "R-9,,Hopper,1906-12-09,f,,no,,none", "row 2, column first_name: this required cell is empty."),
        (
            "patients",
            P,
            "R-9,Grace,Hopper,1906-13-09,f,,no,,none",
            "row 2, column birth_date: '1906-13-09' is not a date",
        ),
        (
            "patients",
            P,
            "R-9,Grace,Hopper,2999-01-01,f,,no,,none",
            "row 2, column birth_date: The birth date cannot be",
        ),
        ("patients", P, "R-9,Grace,Hopper,1906-12-09,x,,no,,none", "row 2, column sex: 'x' is not a sex"),
        ("patients", P, "R-9,Grace,Hopper,1906-12-09,f,nope,no,,none", "row 2, column email: Enter a valid email"),
        ("patients", P, "R-9,Grace,Hopper,1906-12-09,f,,yes,,none", "row 2, column email: Give an email"),
        (
            "patients",
            P,
            "R-9,Grace,Hopper,1906-12-09,f,,maybe,,none",
            "row 2, column email_consent: 'maybe' is not yes",
        ),
        ("patients", P, "R-9,Grace,Hopper,1906-12-09,f,,no,nosuch,none", "row 2, column profile: no profile 'nosuch'"),
        ("patients", P, "R-9,Grace,Hopper,1906-12-09,f,,no,,twins", "row 2, column pregnancy: 'twins' is not a"),
        ("patients", P, ",Grace,Hopper,1906-12-09,f,,no,,none", "row 2, column mrn: give the patient's medical"),
        ("patients", P, OK.strip() + "\n" + OK.strip(), "row 3, column mrn: the same as row 2"),
        ("causes", "mrn,code,length_cm\n", "R-1,gout,", "row 2, column code: 'gout' is not a cause code"),
        ("causes", "mrn,code,length_cm\n", "R-1,ileal_resection,", "row 2, column length_cm: Give the length"),
        ("causes", "mrn,code,length_cm\n", "R-1,ileal_resection,ten", "row 2, column length_cm: 'ten' is not a number"),
        ("causes", "mrn,code,start\n", "R-1,ppi,", "row 2, column start: Give the date the drug"),
        (
            "causes",
            "mrn,code,procedure\n",
            "R-1,bariatric_surgery,lobotomy",
            "row 2, column procedure: 'lobotomy' is not a procedure",
        ),
        ("causes", "mrn,code\n", "R-404,dietary", "row 2, column mrn: no patient 'R-404'"),
        ("injections", "mrn,given_at\n", "R-1,yesterday", "row 2, column given_at: 'yesterday' is not a date"),
        ("injections", "mrn,given_at\n", "R-1,1899-01-01", "row 2, column given_at: Dates before 1 Jan 1900"),
        ("injections", "mrn,given_at\n", "R-1,2999-01-01", "row 2, column given_at: This time is in the future."),
        (
            "injections",
            "mrn,given_at,dose_mcg\n",
            "R-1,2024-01-01,50000",
            "row 2, column dose_mcg: 50000 mcg cannot be",
        ),
        (
            "injections",
            "mrn,given_at,dose_mcg\n",
            "R-1,2024-01-01,1e3",
            "row 2, column dose_mcg: '1e3' is not a number",
        ),
        ("injections", "mrn,given_at,drug\n", "R-1,2024-01-01,aspirin", "row 2, column drug: 'aspirin' is not a drug"),
        ("injections", "mrn,given_at,route\n", "R-1,2024-01-01,oral", "row 2, column route: 'oral' is not a route"),
        ("injections", "mrn,given_at,site\n", "R-1,2024-01-01,nose", "row 2, column site: 'nose' is not a site"),
        (
            "injections",
            "mrn,given_at,lot_expiry\n",
            "R-1,2024-01-01,2023-01-01",
            "row 2, column lot_expiry: This lot had expired",
        ),
        ("injections", "mrn,given_at\n", "R-1,2024-01-01\nR-1,2024-01-01", "row 3, column given_at: the same as row 2"),
        (
            "labs",
            "mrn,collected_on,analyte,value,unit\n",
            "R-1,2024-01-01,zinc,1,ug/L",
            "row 2, column analyte: 'zinc' is not a lab",
        ),
        ("labs", "mrn,collected_on,analyte,value,unit\n", "R-1,2024-01-01,b12,1,furlongs", "row 2, column unit:"),
        (
            "labs",
            "mrn,collected_on,analyte,value,unit\n",
            "R-1,2024-01-01,b12,99999999,pg/mL",
            "row 2, column value: 99999999 pg/mL is outside what",
        ),
        (
            "labs",
            "mrn,collected_on,analyte,value,unit\n",
            "R-1,2999-01-01,b12,300,pg/mL",
            "row 2, column collected_on: This date is in the future.",
        ),
        (
            "labs",
            "mrn,collected_on,analyte,value,unit\n",
            "R-1,,b12,300,pg/mL",
            "row 2, column collected_on: this required cell is empty.",
        ),
        (
            "symptoms",
            "mrn,checked_on,neurological,depression\n",
            "R-1,2024-01-01,sometimes,no",
            "row 2, column neurological: 'sometimes' is not yes",
        ),
        (
            "symptoms",
            "mrn,checked_on,neurological,depression\n",
            "R-1,2024-01-01,no,",
            "row 2, column depression: this required cell is empty.",
        ),
        (
            "symptoms",
            "mrn,checked_on,neurological,depression\n",
            "R-1,01/02/2024,no,no",
            "row 2, column checked_on: '01/02/2024' is not a date",
        ),
    ],
)
def test_it_refuses_each_bad_cell_naming_its_row_and_column(write, run_import, name, header, row, expected):
    args = ["--patients", str(write("patients.csv", PATIENTS))] if name != "patients" else []
    args += [f"--{name}", str(write(f"{name}.csv", header + row + "\n"))]
    result = run_import(*args)
    assert result.code == 2, result.err
    assert any(line.startswith(f"{name}.csv {expected}") for line in result.problems), result.err
    assert not Patient.objects.exists()


def test_it_names_a_missing_required_column(write, run_import):
    result = run_import("--patients", str(write("p.csv", "mrn,first_name,birth_date\nR-1,Ada,1960-01-01\n")))
    assert result.code == 2
    assert result.problems == ["p.csv row 1, column last_name: this required column is missing."]


def test_it_notes_unknown_columns_and_ignores_them(write, run_import):
    result = run_import(
        "--patients", str(write("p.csv", "MRN,First Name,last name,Birth_Date,Shoe size\nR-1,Ada,L,1960-01-01,5\n"))
    )
    assert result.code == 0, result.err
    assert "unknown columns ignored: Shoe size" in result.err
    assert Patient.objects.get().family_name == "L"


def test_it_reads_semicolons_and_a_byte_order_mark(write, run_import):
    text = "\ufeff" + PATIENTS.replace(",", ";")
    result = run_import("--patients", str(write("p.csv", text.encode("utf-8"))))
    assert result.code == 0, result.err
    assert set(Patient.objects.values_list("mrn", flat=True)) == {"R-1", "R-2"}


def test_it_reads_dates_in_the_given_format(write, run_import):
    text = "mrn,first_name,last_name,birth_date\nR-1,Ada,L,10/12/1960\n"
    result = run_import("--patients", str(write("p.csv", text)), "--date-format", "%d/%m/%Y")
    assert result.code == 0, result.err
    assert Patient.objects.get().birth_date == datetime.date(1960, 12, 10)
    Patient.objects.all().delete()
    refused = run_import("--patients", str(write("p.csv", text)))
    assert refused.problems == ["p.csv row 2, column birth_date: '10/12/1960' is not a date: write it as 2026-01-31."]


def test_it_reads_xlsx_date_cells(write, run_import):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["mrn", "first_name", "last_name", "birth_date", "phone"])
    sheet.append(["R-1", "Ada", "Lovelace", datetime.datetime(1960, 12, 10), 5550101])
    injections = book.create_sheet("ignored")  # only the first sheet is read
    injections.append(["nothing"])
    buffer = io.BytesIO()
    book.save(buffer)
    result = run_import("--patients", str(write("register.xlsx", buffer.getvalue())))
    assert result.code == 0, result.err
    ada = Patient.objects.get()
    assert ada.birth_date == datetime.date(1960, 12, 10) and ada.phone == "5550101"


def test_it_holds_warnings_until_they_are_accepted(write, run_import):
    labs = LABS + "R-1,2024-01-20,b12,4000,pg/mL,\n"
    args = ["--patients", str(write("p.csv", PATIENTS)), "--labs", str(write("labs.csv", labs))]
    held = run_import(*args)
    assert held.code == 3
    assert held.problems == [
        "labs.csv row 4, column value: warning: 4000 pg/mL is outside the usual range of Vitamin B12 (50-2000 pg/mL): is it right?"
    ]
    assert not Patient.objects.exists()
    accepted = run_import(*args, "--accept-warnings")
    assert accepted.code == 0, accepted.err
    lab = LabResult.objects.get(value_entered=4000)
    assert lab.confirmed_warnings[0]["code"] == "unusual_value" and lab.confirmed_warnings[0]["by"] == "ada"


def test_it_warns_about_a_dose_that_is_not_the_profiles(write, run_import):
    injections = "mrn,given_at,dose_mcg\nR-1,2024-01-02,500\n"
    result = run_import("--patients", str(write("p.csv", PATIENTS)), "--injections", str(write("i.csv", injections)))
    assert result.code == 3
    assert result.problems[0].startswith("i.csv row 2, column dose_mcg: warning: 500 mcg is not the dose of")
