"""Bulk Data Access $export: kick-off, status, manifest, NDJSON files (parsed back with fhir.resources
and compared with the database), cancel, and clinic scoping. The Celery task runs eagerly here (the
real task code); test_export_worker.py runs it in a real worker."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from accounts.models import Clinic
from audit.models import AccessEvent
from b12clinic.celery import app
from fhir_api.actions import token_create
from fhir_api.models import BulkExport, ExportStatus
from patients.models import Injection, LabResult, Patient

pytestmark = pytest.mark.django_db
ASYNC = {"HTTP_PREFER": "respond-async", "HTTP_ACCEPT": "application/fhir+json"}


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path) -> None:
    settings.FHIR_EXPORT_DIR = tmp_path / "exports"


@pytest.fixture
def eager() -> Iterator[None]:
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def kick_off(api, url: str, token: str, capture) -> str:
    with capture(execute=True):
        response = api("get", url, token, **ASYNC)
    assert response.status_code == 202, response.content
    return response["Content-Location"]


def resources_of(api, token: str, manifest: dict) -> dict[str, list]:
    found: dict[str, list] = {}
    for item in manifest["output"]:
        response = api("get", item["url"], token)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/fhir+ndjson"
        lines = b"".join(response.streaming_content).decode().splitlines()
        assert len(lines) == item["count"]
        model = get_fhir_model_class(item["type"])
        found[item["type"]] = [model.model_validate_json(line) for line in lines]
    return found


def test_it_exports_asynchronously_as_the_bulk_data_ig_says(
    api, token_for, physician: User, charted: Patient, eager, django_capture_on_commit_callbacks
) -> None:
    token = token_for(physician)
    status_url = kick_off(api, "/fhir/$export", token, django_capture_on_commit_callbacks)
    assert "/fhir/$export-status/" in status_url
    response = api("get", status_url, token)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    manifest = json.loads(response.content)
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("/fhir/$export")
    assert manifest["transactionTime"].endswith("Z")
    # One file a type that has resources, in the IG's order of types asked (Flag only with an alert).
    kinds = [item["type"] for item in manifest["output"]]
    assert kinds[:5] == ["Patient", "Condition", "MedicationAdministration", "Observation", "CarePlan"]
    assert kinds[5:] == (["Flag"] if charted.care_alerts.exists() else [])
    exported = resources_of(api, token, manifest)
    assert [p.identifier[0].value for p in exported["Patient"]] == ["MRN-100"]
    assert len(exported["Observation"]) == 3 and len(exported["MedicationAdministration"]) == 2
    # The download is a read of every patient in it, in the access log.
    event = AccessEvent.objects.filter(user=physician, page="fhir_api:export_file").first()
    assert event is not None and list(event.patients.all()) == [charted]


def test_status_is_202_with_progress_while_the_task_has_not_run(
    api, token_for, physician: User, charted: Patient, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    from fhir_api import tasks

    queued = []
    monkeypatch.setattr(tasks.run_export, "delay", queued.append)  # the broker's edge: nothing runs
    token = token_for(physician)
    status_url = kick_off(api, "/fhir/$export?_type=Patient,Observation", token, django_capture_on_commit_callbacks)
    assert len(queued) == 1
    response = api("get", status_url, token)
    assert response.status_code == 202
    assert response["X-Progress"] == "Queued"
    # The task, run now, writes only the types asked for.
    tasks.run_export(queued[0])
    manifest = json.loads(api("get", status_url, token).content)
    assert [item["type"] for item in manifest["output"]] == ["Patient", "Observation"]
    # DELETE cancels and removes the files: the status and files are gone.
    file_url = manifest["output"][0]["url"]
    assert api("delete", status_url, token).status_code == 202
    assert api("get", status_url, token).status_code == 404
    assert api("get", file_url, token).status_code == 404
    export = BulkExport.objects.get()
    assert export.status == ExportStatus.CANCELLED
    assert not any((tasks.actions.export_directory(export)).glob("*"))


@pytest.mark.parametrize(
    ("query", "headers", "problem"),
    [
        ("", {}, "respond-async"),
        ("?_outputFormat=text/csv", ASYNC, "_outputFormat"),
        ("?_type=Encounter", ASYNC, "Encounter"),
        ("?_since=yesterday", ASYNC, "_since"),
    ],
)
def test_a_kick_off_it_cannot_honour_is_a_400(
    api, token_for, physician: User, query: str, headers, problem: str
) -> None:
    response = api("get", f"/fhir/$export{query}", token_for(physician), **headers)
    assert response.status_code == 400
    assert problem in json.loads(response.content)["issue"][0]["diagnostics"]
    assert not BulkExport.objects.exists()


def test_a_token_of_clinic_a_exports_nothing_of_clinic_b(
    api,
    token_for,
    south_physician: User,
    physician: User,
    charted: Patient,
    make_patient,
    south: Clinic,
    eager,
    django_capture_on_commit_callbacks,
) -> None:
    southerner = make_patient(mrn="S-1", clinic=south, by=south_physician)
    token = token_for(south_physician)
    for url in ("/fhir/$export", "/fhir/Group/south/$export"):
        status_url = kick_off(api, url, token, django_capture_on_commit_callbacks)
        exported = resources_of(api, token, json.loads(api("get", status_url, token).content))
        assert [p.id for p in exported["Patient"]] == [str(southerner.pk)]
        everything = [r for kind in exported.values() for r in kind if kind is not exported["Patient"]]
        assert all(r.subject.reference == f"Patient/{southerner.pk}" for r in everything)
    north = Clinic.objects.exclude(pk=south.pk).get()
    assert api("get", f"/fhir/Group/{north.slug}/$export", token, **ASYNC).status_code == 404
    # Another user's status URL and files are a 404 to this token, and the other way round.
    other = token_for(physician)
    assert api("get", status_url, other).status_code == 404


def _number(value: Decimal) -> Decimal:
    return value.normalize()


def test_a_bulk_export_of_the_demo_clinic_round_trips_its_labs_and_injections(
    api, eager, django_capture_on_commit_callbacks
) -> None:
    call_command("seed_demo", "--even-without-debug", stdout=io.StringIO())
    physician = get_user_model().objects.get(username="physician")  # works in both demo clinics
    token = token_create(user=physician, label="round trip", now=timezone.now()).secret
    north = Clinic.objects.get(slug="north")
    status_url = kick_off(api, f"/fhir/Group/{north.slug}/$export", token, django_capture_on_commit_callbacks)
    exported = resources_of(api, token, json.loads(api("get", status_url, token).content))

    patients = {str(p.pk): p for p in Patient.objects.filter(clinic=north)}
    assert {p.id for p in exported["Patient"]} == set(patients)
    assert {p.identifier[0].value for p in exported["Patient"]} == {p.mrn for p in patients.values()}

    labs = LabResult.objects.filter(patient__clinic=north)
    from_fhir = sorted(
        (
            int(o.subject.reference.removeprefix("Patient/")),
            o.effectiveDateTime,
            _number(o.valueQuantity.value),
            o.valueQuantity.unit,
            o.status,
        )
        for o in exported["Observation"]
    )
    from_db = sorted(
        (
            lab.patient_id,
            lab.collected_on,
            _number(lab.value_entered),
            lab.unit_entered,
            "entered-in-error" if lab.voided_at else "final",
        )
        for lab in labs
    )
    assert labs.exists() and from_fhir == from_db

    injections = Injection.objects.filter(patient__clinic=north)
    from_fhir = sorted(
        (
            int(m.subject.reference.removeprefix("Patient/")),
            m.effectiveDateTime,
            int(m.dosage.dose.value),
            m.medicationCodeableConcept.coding[0].code,
            m.status,
        )
        for m in exported["MedicationAdministration"]
    )
    drug_codes = {"cyanocobalamin": "419382002", "hydroxocobalamin": "409258004"}
    from_db = sorted(
        (i.patient_id, i.given_at, i.dose_mcg, drug_codes[i.drug], "entered-in-error" if i.voided_at else "completed")
        for i in injections
    )
    assert injections.exists() and from_fhir == from_db


def test_since_exports_only_patients_written_to_since(
    api, token_for, physician: User, charted: Patient, make_patient, eager, django_capture_on_commit_callbacks
) -> None:
    import datetime

    import time_machine

    with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
        later = make_patient(mrn="LATER-1")
        since = (timezone.now() - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        token = token_for(physician)
        status_url = kick_off(api, f"/fhir/$export?_since={since}", token, django_capture_on_commit_callbacks)
        manifest = json.loads(api("get", status_url, token).content)
        exported = resources_of(api, token, manifest)
    assert [p.id for p in exported["Patient"]] == [str(later.pk)]


def test_finished_exports_expire_with_their_files(
    api, token_for, physician: User, charted: Patient, eager, django_capture_on_commit_callbacks, settings
) -> None:
    import datetime

    from fhir_api import actions

    token = token_for(physician)
    status_url = kick_off(api, "/fhir/$export", token, django_capture_on_commit_callbacks)
    export = BulkExport.objects.get()
    assert any(actions.export_directory(export).glob("*.ndjson"))
    hours = datetime.timedelta(hours=settings.FHIR_EXPORT_KEEP_HOURS)
    assert actions.exports_expire(now=export.finished_at + hours - datetime.timedelta(minutes=1)) == 0
    assert actions.exports_expire(now=export.finished_at + hours + datetime.timedelta(minutes=1)) == 1
    assert not actions.export_directory(export).exists()
    assert api("get", status_url, token).status_code == 404


def test_an_export_is_no_longer_readable_once_its_user_leaves_the_clinic(
    api, token_for, physician: User, charted: Patient, eager, django_capture_on_commit_callbacks
) -> None:
    token = token_for(physician)
    status_url = kick_off(api, "/fhir/$export", token, django_capture_on_commit_callbacks)
    file_url = json.loads(api("get", status_url, token).content)["output"][0]["url"]
    charted.clinic.staff.remove(physician)
    assert api("get", status_url, token).status_code == 404
    assert api("get", file_url, token).status_code == 404
