"""`generate_clinic` (the benchmark population) in small: bulk rows with their history, care statuses,
and a database that ordinary writes still work on afterwards."""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command

from care.models import CareStatus
from clinic import actions
from patients.models import Cause, Injection, LabResult, Patient, Regimen, SymptomCheck

pytestmark = pytest.mark.django_db


@time_machine.travel(datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC), tick=False)
def test_it_generates_patients_with_history_and_care_status(nurse) -> None:
    for _ in range(2):  # a second run adds to the first without id clashes
        call_command(
            "generate_clinic", "--patients", "60", "--seed", "5", "--today", "2026-03-01", stdout=io.StringIO()
        )
    assert Patient.objects.count() == 120
    for model in (Patient, Regimen, Cause, Injection, LabResult, SymptomCheck):
        assert model.history.count() == model.objects.count() > 0, model.__name__
    active = Patient.objects.filter(is_active=True)
    assert CareStatus.objects.filter(patient__in=active).count() == active.count()
    assert "maintenance" in set(CareStatus.objects.values_list("phase", flat=True))
    assert Injection.objects.filter(given_at__date__gt=datetime.date(2026, 3, 1)).count() == 0
    # Sequences were moved past the generated ids: an ordinary write still gets a fresh id.
    patient = actions.patient_create(
        mrn="AFTER-1", given_name="A", family_name="B", birth_date=datetime.date(1970, 1, 1), sex="female", by=nurse
    )
    assert patient.pk > max(Patient.objects.exclude(pk=patient.pk).values_list("pk", flat=True))


def test_the_population_has_every_cause_and_phase_and_no_future_record() -> None:
    import random
    import zoneinfo

    from demo.synthetic import synthetic_patient

    today, zone, rng = datetime.date(2026, 3, 1), zoneinfo.ZoneInfo("Europe/London"), random.Random(1)
    people = [synthetic_patient(rng, i, today, zone) for i in range(1500)]
    phases = {
        "oral"
        if p.oral_since
        else ("not_started" if not p.injections else ("loading" if len(p.injections) < 4 else "maintenance"))
        for p in people
    }
    assert phases == {"not_started", "loading", "maintenance", "oral"}
    kinds = {cause["kind"] for p in people for cause in p.causes}
    assert kinds == {
        "pernicious_anemia",
        "ileal_resection",
        "bariatric_surgery",
        "crohns_ileal",
        "dietary",
        "ppi",
        "metformin",
        "other",
    }
    assert any(not p.causes for p in people) and any(not p.is_active for p in people)
    assert max(len(p.injections) for p in people) >= 55  # five years of monthly doses
    for p in people:
        assert all(at.date() <= today for at, _, _ in p.injections)
        assert all(day <= today for day, *_ in p.labs) and all(day <= today for day, *_ in p.symptoms)
