"""Helpers for the register import: write files, run the command, read what it said."""

from __future__ import annotations

import io
import pathlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.management import call_command

PATIENTS = (
    "mrn,first_name,last_name,birth_date,sex,email,email_consent,profile\n"
    "R-1,Ada,Lovelace,1960-12-10,f,ada@example.org,yes,\n"
    "R-2,Alan,Turing,1954-06-23,m,,no,\n"
)
CAUSES = "mrn,code,length_cm,procedure,start,stop,note\nR-1,pernicious_anemia,,,,,\nR-2,ileal_resection,40,,,,\n"
INJECTIONS = (
    "mrn,given_at,drug,dose_mcg,site,lot_number,lot_expiry,given_by\n"
    "R-1,2024-01-02,,,Left deltoid,L1,2025-01-01,Nurse Ratched\n"
    "R-1,2024-01-04 09:30,,,left_deltoid,,,\n"
    "R-2,2024-02-01,hydroxocobalamin,1000,,,,\n"
)
LABS = "mrn,collected_on,analyte,value,unit,note\nR-1,2023-12-20,b12,120,pg/mL,\nR-2,2024-01-20,b12,90,pmol/L,\n"
SYMPTOMS = "mrn,checked_on,neurological,depression,note\nR-1,2023-12-20,yes,no,tingling\n"


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def problems(self) -> list[str]:
        return [line for line in self.err.splitlines() if " row " in line]


@pytest.fixture
def write(tmp_path: pathlib.Path) -> Callable[..., pathlib.Path]:
    def write(name: str, text: str | bytes) -> pathlib.Path:
        path = tmp_path / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    return write


@pytest.fixture
def run_import(clinic_admin: object) -> Callable[..., Outcome]:
    def run(*args: str) -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        try:
            call_command("import_register", *args, "--user", "ada", stdout=out, stderr=err)
        except SystemExit as exit:
            code = int(exit.code or 0)
        return Outcome(code, out.getvalue(), err.getvalue())

    return run
