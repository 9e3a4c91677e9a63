"""Export a clinic, import it into an empty record, and every patient's care status is the same."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.forms.models import model_to_dict

from accounts.models import Clinic
from care.models import CareAlert, CareStatus
from exchange.exports import clinic_export, csv_bytes
from exchange.importer import Upload, import_register
from patients.models import Patient

pytestmark = pytest.mark.django_db

IGNORED = {"id", "patient", "evaluated_at", "as_of"}


def _statuses() -> dict[str, dict[str, Any]]:
    found = {}
    for status in CareStatus.objects.select_related("patient"):
        values = {k: v for k, v in model_to_dict(status).items() if k not in IGNORED}
        values["alerts"] = sorted(
            CareAlert.objects.filter(patient=status.patient).values_list("rule", "since", "message")
        )
        found[status.patient.mrn] = values
    return found


def _round_trip(importer: Any) -> None:
    """Each clinic exported, everything deleted, each clinic's files imported into it again."""
    before = _statuses()
    assert before
    exported = {}
    for clinic in Clinic.objects.all():
        files, _ = clinic_export(patients=Patient.objects.filter(clinic=clinic))
        exported[clinic.name] = [Upload(name, f"{name}.csv", csv_bytes(data)) for name, data in files.items()]
    Patient.objects.all().delete()  # the empty record the files go into
    assert not CareStatus.objects.exists()
    for clinic, uploads in exported.items():
        report = import_register(uploads, by=importer, clinic=clinic, accept_warnings=True)
        assert not report.errors, [str(p) for p in report.errors[:10]]
        assert report.saved
    after = _statuses()
    # generate_clinic writes no status for a discharged patient; the discharge action stores one.
    assert before.keys() <= after.keys()
    assert not [mrn for mrn in after.keys() - before.keys() if after[mrn]["patient_active"]]
    different = {mrn: (before[mrn], after[mrn]) for mrn in before if before[mrn] != after[mrn]}
    assert not different
    # A second import of the same files changes nothing.
    for clinic, uploads in exported.items():
        again = import_register(uploads, by=importer, clinic=clinic, accept_warnings=True)
        assert all(counts.created == counts.updated == 0 for counts in again.counts.values()), again.lines()


def test_it_round_trips_the_demo_clinic() -> None:
    call_command("seed_demo", "--even-without-debug", stdout=io.StringIO())
    _round_trip(get_user_model().objects.get(username="admin"))


def test_it_round_trips_a_generated_clinic(clinic_admin) -> None:
    """A generated population (random histories; the demo clinic above covers every phase, verdict and alert)."""
    call_command("generate_clinic", "--patients", "20", "--seed", "3", stdout=io.StringIO())
    _round_trip(clinic_admin)
