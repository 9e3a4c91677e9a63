"""FHIR in: a transaction (or batch) Bundle of Observations posted to /fhir/ goes through labs_in's
matching (record number AND birth date, never blank), LOINC table, units, checks and queue."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from fhir.resources.R4B.bundle import Bundle

from accounts.models import Clinic
from labs_in.models import ReceivedMessage, ReceivedResult, ResultStatus
from patients.models import LabResult, Patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_patient: Callable[..., Patient]) -> Patient:
    return make_patient(mrn="MRN-100", birth_date=datetime.date(1970, 5, 10))


def observation(
    identifier: str = "obs-1",
    *,
    mrn: str = "MRN-100",
    birth: str | None = "1970-05-10",
    code: str = "2132-9",
    value: Any = 350,
    unit: str = "pg/mL",
    status: str = "final",
) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "p",
        "name": [{"family": "Example", "given": ["Alice"]}],
    }
    if mrn:
        patient["identifier"] = [{"system": "urn:b12clinic:mrn", "value": mrn}]
    if birth:
        patient["birthDate"] = birth
    return {
        "resourceType": "Observation",
        "contained": [patient],
        "identifier": [{"system": "https://lab.example.org/results", "value": identifier}],
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": "Vitamin B12"}]},
        "subject": {"reference": "#p"},
        "effectiveDateTime": "2026-02-28T09:00:00+00:00",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def bundle(*resources: dict[str, Any], kind: str = "transaction") -> str:
    entries = [
        {
            "fullUrl": f"urn:uuid:{index}",
            "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]},
        }
        for index, resource in enumerate(resources)
    ]
    return json.dumps({"resourceType": "Bundle", "type": kind, "entry": entries})


@pytest.fixture
def post(api, token_for, clinic_admin: User) -> Callable[..., Any]:
    """POST a Bundle as the clinic admin (who may post results); the answer parsed back (validated)."""
    token = token_for(clinic_admin)

    def send(body: str, expect: int = 200) -> Any:
        response = api("post", "/fhir/", token, data=body, content_type="application/fhir+json")
        assert response.status_code == expect, response.content
        assert response["Content-Type"] == "application/fhir+json"
        return Bundle.model_validate_json(response.content) if expect == 200 else json.loads(response.content)

    return send


def statuses(answer: Bundle) -> list[str]:
    return [entry.response.status for entry in answer.entry]


def reason(answer: Bundle, index: int = 0) -> str:
    return answer.entry[index].response.outcome.issue[0].diagnostics


def test_it_records_a_result_of_a_matched_patient(post, alice: Patient, clinic_admin: User) -> None:
    answer = post(bundle(observation()))
    assert answer.type == "transaction-response"
    lab = LabResult.objects.get(patient=alice)
    assert statuses(answer) == ["201 Created"]
    assert answer.entry[0].response.location == f"Observation/lab-{lab.pk}"
    assert (lab.analyte, lab.value_entered, lab.unit_entered, lab.value_canonical) == (
        "b12",
        Decimal(350),
        "pg/mL",
        Decimal(350),
    )
    assert lab.collected_on == datetime.date(2026, 2, 28)
    assert lab.entered_by == clinic_admin
    result = ReceivedResult.objects.get()
    assert (result.status, result.lab, result.patient) == (ResultStatus.RECORDED, lab, alice)
    message = result.message
    assert (message.sending_application, message.sending_facility, message.control_id, message.received_by) == (
        "FHIR",
        "https://lab.example.org/results",
        "obs-1",
        "fhir",
    )
    assert json.loads(message.raw) == observation()  # the source kept: the posted resource


def test_it_converts_units_as_hl7_does(post, alice: Patient) -> None:
    post(bundle(observation(code="14685-2", value="258.3", unit="pmol/L")))
    lab = LabResult.objects.get(patient=alice)
    assert (lab.value_entered, lab.unit_entered, lab.unit_canonical) == (Decimal("258.3"), "pmol/L", "pg/mL")
    assert lab.value_canonical == Decimal("350.0949")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"mrn": "MRN-999"}, "Unknown patient: no patient with record number MRN-999 born 1970-05-10"),
        ({"birth": "1970-05-11"}, "Unknown patient: no patient with record number MRN-100 born 1970-05-11"),
        (
            {"mrn": ""},
            "No record number (the subject Patient's identifier): a result is never matched on a blank field.",
        ),
        (
            {"birth": None},
            "No readable birth date (the subject Patient's birthDate): a result is never matched on a blank field.",
        ),
        ({"code": "9999-9"}, "Unknown LOINC code 9999-9"),
        ({"unit": "mg/L"}, "Unknown unit: 'mg/L' is not a unit for b12"),
        ({"value": 999999}, "Refused: value:"),
        ({"value": 2500}, "Needs confirmation: value:"),
        ({"status": "preliminary"}, "Not a final result (Observation.status is preliminary)."),
    ],
)
def test_what_cannot_be_recorded_is_queued_with_the_reason(post, alice: Patient, changes: dict, expected: str) -> None:
    answer = post(bundle(observation(**changes)))
    assert statuses(answer) == ["202 Accepted"]
    assert expected in reason(answer)
    assert answer.entry[0].response.outcome.issue[0].severity == "warning"
    assert not LabResult.objects.exists()
    result = ReceivedResult.objects.get()
    assert result.status == ResultStatus.PENDING and expected in result.reason
    assert result.patient is None


def test_a_blank_record_number_is_never_matched(post, make_patient, alice: Patient) -> None:
    """Even when the birth date alone would name exactly one patient."""
    answer = post(bundle(observation(mrn="   ")))
    assert statuses(answer) == ["202 Accepted"]
    assert "No record number" in reason(answer)
    assert not LabResult.objects.exists()


def test_an_unmatched_result_joins_the_posting_clinics_queue(post, clinic_admin: User) -> None:
    post(bundle(observation(mrn="MRN-999")))
    assert ReceivedMessage.objects.get().clinic == Clinic.objects.get(staff=clinic_admin)


def test_the_same_observation_twice_records_nothing_new(post, alice: Patient) -> None:
    first = post(bundle(observation()))
    again = post(bundle(observation(value=400)))
    assert statuses(again) == ["200 OK"]
    assert again.entry[0].response.location == first.entry[0].response.location
    assert "Already received" in reason(again)
    assert LabResult.objects.count() == ReceivedMessage.objects.count() == ReceivedResult.objects.count() == 1


def test_a_transaction_with_a_refused_entry_records_nothing(post, alice: Patient) -> None:
    no_identifier = observation("obs-2")
    del no_identifier["identifier"]
    invalid = observation("obs-3")
    invalid["status"] = 42
    outcome = post(
        bundle(observation(), no_identifier, invalid, {"resourceType": "Encounter", "status": "finished"}), expect=400
    )
    assert outcome["resourceType"] == "OperationOutcome"
    assert [issue["expression"] for issue in outcome["issue"]] == [
        ["Bundle.entry[1]"],
        ["Bundle.entry[2]"],
        ["Bundle.entry[3]"],
    ]
    assert "identifier" in outcome["issue"][0]["diagnostics"]
    assert not ReceivedMessage.objects.exists() and not LabResult.objects.exists()


def test_a_batch_answers_each_entry_on_its_own(post, alice: Patient) -> None:
    no_identifier = observation("obs-2")
    del no_identifier["identifier"]
    answer = post(bundle(observation(), no_identifier, observation("obs-3", mrn="MRN-999"), kind="batch"))
    assert answer.type == "batch-response"
    assert statuses(answer) == ["201 Created", "422 Unprocessable Entity", "202 Accepted"]
    assert answer.entry[1].response.outcome.issue[0].severity == "error"
    assert LabResult.objects.count() == 1


def test_the_subject_may_be_a_patient_entry_of_the_bundle(post, alice: Patient) -> None:
    patient = observation()["contained"][0] | {"id": None}
    resource = observation()
    del resource["contained"]
    resource["subject"] = {"reference": "urn:uuid:0"}
    body = bundle({k: v for k, v in patient.items() if v is not None}, resource)
    answer = post(body)
    assert statuses(answer) == ["200 OK", "201 Created"]
    assert LabResult.objects.filter(patient=alice).count() == 1


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"resourceType": "Observation"}),
        json.dumps({"resourceType": "Bundle", "type": "collection"}),
    ],
)
def test_a_body_that_is_not_a_transaction_or_batch_is_a_400(post, body: str) -> None:
    assert post(body, expect=400)["resourceType"] == "OperationOutcome"


def test_posting_needs_the_permission_to_post_results(api, token_for, physician: User, alice: Patient) -> None:
    response = api(
        "post", "/fhir/", token_for(physician), data=bundle(observation()), content_type="application/fhir+json"
    )
    assert response.status_code == 403
    assert (
        api("post", "/fhir/", None, data=bundle(observation()), content_type="application/fhir+json").status_code == 401
    )
    assert not ReceivedMessage.objects.exists()


def test_an_account_of_some_clinics_but_not_all_cannot_post(api, token_for, clinic_admin: User, alice: Patient) -> None:
    Clinic.objects.create(name="South", slug="south").staff.add(clinic_admin)
    Clinic.objects.create(name="East", slug="east")
    response = api(
        "post", "/fhir/", token_for(clinic_admin), data=bundle(observation()), content_type="application/fhir+json"
    )
    assert response.status_code == 403
    assert "one clinic" in json.loads(response.content)["issue"][0]["diagnostics"]


def test_a_laboratory_account_posts_results_and_reads_nothing(api, token_for, alice: Patient) -> None:
    """Least privilege: post_results and add_labresult, granted by hand, without the API's read permission."""
    from django.contrib.auth.models import Permission

    from accounts.clinics import staff_join_only_clinic

    lab = User.objects.create_user(username="lab-north", password="pw")
    lab.user_permissions.add(
        Permission.objects.get(codename="post_results"), Permission.objects.get(codename="add_labresult")
    )
    staff_join_only_clinic(lab)
    token = token_for(lab)
    response = api("post", "/fhir/", token, data=bundle(observation()), content_type="application/fhir+json")
    assert response.status_code == 200
    assert LabResult.objects.get().entered_by == lab
    assert api("get", f"/fhir/Patient/{alice.pk}", token).status_code == 403


def test_a_logical_subject_without_a_birth_date_is_queued(post, alice: Patient) -> None:
    resource = observation()
    del resource["contained"]
    resource["subject"] = {"identifier": {"system": "urn:b12clinic:mrn", "value": "MRN-100"}}
    answer = post(bundle(resource))
    assert statuses(answer) == ["202 Accepted"]
    assert "No readable birth date" in reason(answer)
    assert ReceivedResult.objects.get().mrn == "MRN-100"


def test_the_queue_shows_the_posted_resource(post, nurse_client) -> None:
    post(bundle(observation(mrn="MRN-999")))
    result = ReceivedResult.objects.get()
    page = nurse_client.get(f"/lab-results/{result.pk}/")
    assert page.status_code == 200
    assert b'data-testid="resource"' in page.content and b"https://lab.example.org/results" in page.content
    assert b"MRN-999" in page.content
