"""The long commands show their progress on a terminal (toolkit.progress) and stay quiet elsewhere."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.exchange.conftest import PATIENTS
from toolkit import progress

pytestmark = pytest.mark.django_db


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "_is_tty", lambda stream: True)


def _last_lines(err: str) -> list[str]:
    """What a terminal shows at the end: each rewritten line's last state."""
    return [line.rsplit("\r\x1b[K", 1)[-1] for line in err.split("\n") if line.startswith("\r")]


def test_generate_clinic_shows_patients_then_care_statuses(terminal) -> None:
    err = io.StringIO()
    call_command("generate_clinic", "--patients", "3", "--seed", "1", stdout=io.StringIO(), stderr=err)
    shown = _last_lines(err.getvalue())
    assert shown[0].startswith("patients written: 3/3 (100%)") and "done in" in shown[0]
    assert shown[1].startswith("care statuses: ") and "patients (100%)" in shown[1]


def test_refresh_care_status_shows_the_patients(terminal, make_patient) -> None:
    make_patient(), make_patient()
    err = io.StringIO()
    call_command("refresh_care_status", "--all", stdout=io.StringIO(), stderr=err)
    assert _last_lines(err.getvalue())[0].startswith("care statuses: 2/2 patients (100%)")


def test_import_register_shows_rows_then_care_statuses(terminal, tmp_path, clinic_admin) -> None:
    err = io.StringIO()
    path = tmp_path / "p.csv"
    path.write_text(PATIENTS)
    call_command("import_register", "--patients", str(path), "--user", "ada", stdout=io.StringIO(), stderr=err)
    shown = _last_lines(err.getvalue())
    assert shown[0].startswith("import: 2/2 rows (100%)")
    assert shown[1].startswith("care statuses: 2/2 patients (100%)")


def test_a_command_in_a_log_stays_quiet_when_it_is_quick(make_patient) -> None:
    make_patient()
    err = io.StringIO()
    call_command("refresh_care_status", "--all", stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == ""
