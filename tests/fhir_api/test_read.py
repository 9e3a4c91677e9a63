"""FHIR out: tokens, Patient read and $everything, every resource validated by fhir.resources (R4B),
clinic scoping and the access log."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient as FhirPatient

from audit.models import AccessEvent
from fhir_api import actions
from fhir_api.models import ApiToken
from patients.models import Patient

pytestmark = pytest.mark.django_db


def _outcome(response) -> OperationOutcome:
    assert response["Content-Type"] == "application/fhir+json"
    return OperationOutcome.model_validate_json(response.content)


def test_it_reads_a_patient_as_a_valid_fhir_patient(api, token_for, physician: User, charted: Patient) -> None:
    response = api("get", f"/fhir/Patient/{charted.pk}", token_for(physician))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert "no-store" in response["Cache-Control"]
    patient = FhirPatient.model_validate_json(response.content)
    assert patient.id == str(charted.pk)
    assert [(i.system, i.value) for i in patient.identifier] == [("urn:b12clinic:mrn", "MRN-100")]
    assert patient.identifier[0].type.coding[0].code == "MR"
    assert patient.birthDate == charted.birth_date
    assert patient.gender == "female"
    assert (patient.name[0].family, patient.name[0].given) == ("Example", ["Alice"])
    assert {(t.system, t.value) for t in patient.telecom} == {("phone", "01234 567890"), ("email", "alice@example.org")}


def test_everything_is_a_searchset_of_valid_resources(api, token_for, physician: User, charted: Patient) -> None:
    response = api("get", f"/fhir/Patient/{charted.pk}/$everything", token_for(physician))
    assert response.status_code == 200
    bundle = Bundle.model_validate_json(response.content)  # validates every resource in it
    assert bundle.type == "searchset"
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds[0] == "Patient" and bundle.entry[0].search.mode == "match"
    assert kinds.count("Condition") == 2
    assert kinds.count("MedicationAdministration") == 2
    assert kinds.count("Observation") == 3
    assert kinds.count("CarePlan") == 1
    assert bundle.total == len(kinds)
    by_id = {entry.resource.id: entry.resource for entry in bundle.entry}
    assert all(
        entry.fullUrl.endswith(f"/fhir/{entry.resource.get_resource_type()}/{entry.resource.id}")
        for entry in bundle.entry
    )

    conditions = [r for r in by_id.values() if r.get_resource_type() == "Condition"]
    assert {c.code.coding[0].code for c in conditions} == {"84027009", "190634004"}
    metformin = next(c for c in conditions if c.code.coding[0].code == "190634004")
    assert metformin.evidence[0].code[0].coding[0].code == "372567009"

    injections = charted.injections.order_by("given_at")
    given, voided = (by_id[f"injection-{i.pk}"] for i in injections)
    assert (given.status, voided.status) == ("completed", "entered-in-error")
    assert voided.statusReason[0].text == "Entered in error: Recorded on the wrong patient"
    assert given.medicationCodeableConcept.coding[0].code == "409258004"
    assert (given.dosage.dose.value, given.dosage.dose.code, given.dosage.dose.system) == (
        1000,
        "ug",
        "http://unitsofmeasure.org",
    )
    assert given.dosage.route.coding[0].code == "78421000"

    labs = {lab.pk: lab for lab in charted.labs.all()}
    observations = {int(r.id.removeprefix("lab-")): r for r in by_id.values() if r.get_resource_type() == "Observation"}
    assert observations.keys() == labs.keys()
    for pk, observation in observations.items():
        lab = labs[pk]
        assert observation.status == ("entered-in-error" if lab.voided_at else "final")
        assert observation.valueQuantity.value == lab.value_entered
        assert observation.valueQuantity.code == lab.unit_entered
        expected = "14685-2" if lab.unit_entered == "pmol/L" else "2132-9"
        assert observation.code.coding[0].code == expected
        assert observation.effectiveDateTime == lab.collected_on

    plan = next(r for r in by_id.values() if r.get_resource_type() == "CarePlan")
    status = charted.care_status
    scheduled = [
        activity.detail.scheduledPeriod.start if activity.detail.scheduledPeriod else None for activity in plan.activity
    ]
    expected_dates = [status.next_injection_due, status.next_recheck_due]
    assert [s.date() if isinstance(s, datetime.datetime) else s for s in scheduled] == expected_dates


def test_it_says_the_active_alerts_as_flags(api, token_for, physician: User, charted: Patient) -> None:
    from care.models import CareAlert

    alert = CareAlert.objects.create(
        patient=charted,
        clinic=charted.clinic,
        rule="test",
        severity=3,
        since=datetime.date(2026, 2, 1),
        message="Check B12",
    )
    bundle = Bundle.model_validate_json(
        api("get", f"/fhir/Patient/{charted.pk}/$everything", token_for(physician)).content
    )
    flags = {e.resource.id: e.resource for e in bundle.entry if e.resource.get_resource_type() == "Flag"}
    assert set(flags) == {f"alert-{pk}" for pk in charted.care_alerts.values_list("pk", flat=True)}
    assert (flags[f"alert-{alert.pk}"].status, flags[f"alert-{alert.pk}"].code.text) == ("active", "Check B12")
    assert flags[f"alert-{alert.pk}"].period.start.isoformat().startswith("2026-02-01")


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer nope", "Basic dXNlcjpwdw==", "Token b12_x"])
def test_it_answers_401_without_a_valid_token(client, charted: Patient, header: str) -> None:
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(f"/fhir/Patient/{charted.pk}", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert _outcome(response).issue[0].code == "login"


def test_a_revoked_or_expired_token_is_refused(api, physician: User, charted: Patient) -> None:
    made = actions.token_create(user=physician, label="registry", now=timezone.now(), days=1)
    assert api("get", f"/fhir/Patient/{charted.pk}", made.secret).status_code == 200
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1, minutes=1)):
        assert api("get", f"/fhir/Patient/{charted.pk}", made.secret).status_code == 401
    actions.token_revoke(user=physician, token_id=made.token.pk, now=timezone.now())
    assert api("get", f"/fhir/Patient/{charted.pk}", made.secret).status_code == 401


def test_a_token_is_stored_hashed_and_notes_its_last_use(api, token_for, physician: User, charted: Patient) -> None:
    secret = token_for(physician)
    token = ApiToken.objects.get()
    assert secret not in (token.key_hash, token.prefix) and token.key_hash != secret and secret.startswith(token.prefix)
    assert token.last_used_at is None
    api("get", f"/fhir/Patient/{charted.pk}", secret)
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_an_inactive_users_token_is_refused(api, token_for, physician: User, charted: Patient) -> None:
    secret = token_for(physician)
    physician.is_active = False
    physician.save()
    assert api("get", f"/fhir/Patient/{charted.pk}", secret).status_code == 401


def test_a_role_without_the_api_permission_is_refused(api, nurse: User, physician: User, charted: Patient) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        actions.token_create(user=nurse, label="mine", now=timezone.now())
    # A token made while the role had the permission stops working when it is taken away.
    secret = actions.token_create(user=physician, label="x", now=timezone.now()).secret
    physician.groups.clear()
    response = api("get", f"/fhir/Patient/{charted.pk}", secret)
    assert response.status_code == 403
    assert _outcome(response).issue[0].code == "forbidden"


def test_a_token_of_clinic_a_reads_nothing_of_clinic_b(api, token_for, south_physician: User, charted: Patient) -> None:
    secret = token_for(south_physician)
    for url in (f"/fhir/Patient/{charted.pk}", f"/fhir/Patient/{charted.pk}/$everything", "/fhir/Patient/999999"):
        response = api("get", url, secret)
        assert response.status_code == 404, url
        assert b"MRN-100" not in response.content and b"Alice" not in response.content
        assert _outcome(response).issue[0].code == "not-found"
    refused = AccessEvent.objects.filter(user=south_physician, kind=AccessEvent.Kind.NOT_FOUND)
    assert refused.filter(detail=f"patient {charted.pk}").count() == 2
    assert not AccessEvent.objects.filter(user=south_physician, kind=AccessEvent.Kind.READ).exists()


def test_every_read_is_in_the_access_log(api, token_for, physician: User, charted: Patient) -> None:
    secret = token_for(physician)
    api("get", f"/fhir/Patient/{charted.pk}", secret)
    api("get", f"/fhir/Patient/{charted.pk}/$everything", secret)
    events = AccessEvent.objects.filter(user=physician, kind=AccessEvent.Kind.READ).order_by("at", "pk")
    assert [e.page for e in events] == ["fhir_api:patient", "fhir_api:everything"]
    assert all(list(e.patients.all()) == [charted] for e in events)


def test_unknown_urls_and_methods_answer_with_an_operation_outcome(
    api, client, token_for, physician: User, charted: Patient
) -> None:
    secret = token_for(physician)
    assert api("get", "/fhir/Practitioner/1", secret).status_code == 404
    response = api("delete", f"/fhir/Patient/{charted.pk}", secret)
    assert response.status_code == 405 and response["Allow"] == "GET"
    metadata = client.get("/fhir/metadata")
    assert metadata.status_code == 200
    CapabilityStatement.model_validate_json(metadata.content)
