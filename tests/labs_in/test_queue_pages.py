"""The unmatched-results queue: the list, one result, match (with the record's checks), register,
reject; scoped to the user's clinics; counted on the dashboard."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import Clinic
from audit.models import AccessEvent
from labs_in.actions import message_receive
from labs_in.models import ReceivedResult, ResultStatus
from patients.models import LabResult, Patient
from patients.plausibility import UNUSUAL_VALUE
from tests.conftest import _user

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(nurse: User, oru: Callable[..., str]) -> ReceivedResult:
    """A result for MRN-100, born 1970-05-10, who is not registered (yet)."""
    message_receive(text=oru(family_name="SMITH", given_name="JANE"))
    return ReceivedResult.objects.get()


def test_it_lists_queued_results_readably(nurse_client: Client, queued: ReceivedResult) -> None:
    response = nurse_client.get(reverse("labs_in:queue"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "SMITH, JANE" in text and "MRN-100" in text and "Unknown patient" in text and "350 pg/mL" in text


def test_it_shows_one_result_with_its_message(nurse_client: Client, queued: ReceivedResult) -> None:
    text = nurse_client.get(reverse("labs_in:result", args=[queued.pk])).content.decode()
    assert "PID|1||MRN-100" in text and "LOINC 2132-9" in text and "Vitamin B12" in text


@pytest.mark.parametrize("url_name", ["labs_in:queue"])
def test_it_refuses_a_user_without_a_role(client: Client, stranger: User, url_name: str) -> None:
    client.force_login(stranger)
    assert client.get(reverse(url_name)).status_code == 403


def test_it_hides_results_received_for_another_clinic(client: Client, nurse: User, oru: Callable[..., str]) -> None:
    south = Clinic.objects.create(name="South", slug="south")
    message_receive(text=oru(), clinic=south)
    result = ReceivedResult.objects.get()
    client.force_login(nurse)  # North only
    assert "MRN-100" not in client.get(reverse("labs_in:queue")).content.decode()
    assert client.get(reverse("labs_in:result", args=[result.pk])).status_code == 404
    south_nurse = _user("sue", "nurse")
    south.staff.add(south_nurse)
    client.force_login(south_nurse)
    assert "MRN-100" in client.get(reverse("labs_in:queue")).content.decode()


def test_it_records_a_result_matched_to_a_patient(
    nurse_client: Client, nurse: User, queued: ReceivedResult, make_patient: Callable[..., Patient]
) -> None:
    patient = make_patient(mrn="MRN-200", family_name="Smith")
    response = nurse_client.post(
        reverse("labs_in:match", args=[queued.pk]), {"mrn": "MRN-200", "analyte": "b12", "unit": "pg/mL"}
    )
    assert response.status_code == 302
    queued.refresh_from_db()
    assert (queued.status, queued.patient, queued.decided_by) == (ResultStatus.MATCHED, patient, nurse)
    lab = LabResult.objects.get(patient=patient)
    assert (lab.analyte, lab.value_entered, lab.unit_entered) == ("b12", Decimal("350"), "pg/mL")
    assert lab.received_result == queued


@pytest.mark.parametrize(
    ("overrides", "difference"),
    [
        ({"birth_date": datetime.date(1970, 5, 11)}, "born 10 May 1970 in the message, 11 May 1970 on record"),
        ({"family_name": "Jones"}, "named SMITH in the message, Jones on record"),
    ],
)
def test_it_asks_before_recording_for_a_patient_whose_name_or_birth_date_differs(
    nurse_client: Client,
    queued: ReceivedResult,
    make_patient: Callable[..., Patient],
    overrides: dict,
    difference: str,
) -> None:
    make_patient(**{"mrn": "MRN-200", "family_name": "Smith", "birth_date": datetime.date(1970, 5, 10), **overrides})
    data = {"mrn": "MRN-200", "analyte": "b12", "unit": "pg/mL"}
    url = reverse("labs_in:match", args=[queued.pk])

    asked = nurse_client.post(url, data)
    assert asked.status_code == 400 and difference in asked.content.decode()
    assert not LabResult.objects.exists()

    assert nurse_client.post(url, {**data, "confirm_identity": "on"}).status_code == 302
    assert LabResult.objects.count() == 1


def test_it_asks_before_recording_an_unusual_value_and_records_it_once_confirmed(
    nurse_client: Client, oru: Callable[..., str], make_patient: Callable[..., Patient]
) -> None:
    message_receive(text=oru(observations=[("2132-9", "3000", "pg/mL")]))
    result = ReceivedResult.objects.get()
    make_patient(mrn="MRN-200")  # Alice Example, born 1970-05-10, as in the message
    data = {"mrn": "MRN-200", "analyte": "b12", "unit": "pg/mL"}
    url = reverse("labs_in:match", args=[result.pk])

    asked = nurse_client.post(url, data)
    assert asked.status_code == 400 and b"needs-confirmation" in asked.content
    assert not LabResult.objects.exists()

    assert nurse_client.post(url, {**data, "confirm": UNUSUAL_VALUE}).status_code == 302
    assert LabResult.objects.get().confirmed_warnings


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"mrn": "MRN-999", "analyte": "b12", "unit": "pg/mL"}, "No patient with this record number"),
        ({"mrn": "MRN-200", "analyte": "b12", "unit": "furlongs"}, "not a unit for b12"),
        ({"mrn": "", "analyte": "b12", "unit": "pg/mL"}, "This field is required"),
    ],
)
def test_it_refuses_a_match_it_cannot_record(
    nurse_client: Client, queued: ReceivedResult, make_patient: Callable[..., Patient], data: dict, error: str
) -> None:
    make_patient(mrn="MRN-200", family_name="Smith")
    response = nurse_client.post(reverse("labs_in:match", args=[queued.pk]), data)
    assert response.status_code == 400 and error in response.content.decode()
    queued.refresh_from_db()
    assert queued.status == ResultStatus.PENDING


def test_it_never_matches_to_a_patient_of_another_clinic(
    nurse_client: Client, superuser: User, queued: ReceivedResult, make_patient: Callable[..., Patient]
) -> None:
    south = Clinic.objects.create(name="South", slug="south")
    make_patient(mrn="MRN-300", clinic=south, by=superuser)
    response = nurse_client.post(
        reverse("labs_in:match", args=[queued.pk]), {"mrn": "MRN-300", "analyte": "b12", "unit": "pg/mL"}
    )
    assert response.status_code == 400 and not LabResult.objects.exists()


@pytest.mark.parametrize(("reason", "status", "code"), [("", "pending", 400), ("Not our patient", "rejected", 302)])
def test_it_rejects_a_result_with_a_reason(
    nurse_client: Client, queued: ReceivedResult, reason: str, status: str, code: int
) -> None:
    response = nurse_client.post(reverse("labs_in:reject", args=[queued.pk]), {"reason": reason})
    assert response.status_code == code
    queued.refresh_from_db()
    assert queued.status == status


def test_it_offers_the_registration_prefilled_from_the_message(nurse_client: Client, queued: ReceivedResult) -> None:
    text = nurse_client.get(reverse("labs_in:register", args=[queued.pk])).content.decode()
    assert 'value="MRN-100"' in text and 'value="Smith"' in text and 'value="Jane"' in text
    assert "1970-05-10" in text
    assert f'action="{reverse("patient_create")}"' in text


def test_it_counts_the_queue_on_the_dashboard(
    physician_client: Client, queued: ReceivedResult, oru: Callable[..., str]
) -> None:
    text = physician_client.get(reverse("dashboard")).content.decode()
    assert "1 unmatched lab result." in text
    message_receive(text=oru(mrn="MRN-101"))
    assert "2 unmatched lab results." in physician_client.get(reverse("dashboard")).content.decode()
    ReceivedResult.objects.update(status=ResultStatus.REJECTED, reject_reason="x")
    assert "unmatched lab result" not in physician_client.get(reverse("dashboard")).content.decode()


def test_it_shows_the_count_on_the_worklist_too(nurse_client: Client, queued: ReceivedResult) -> None:
    assert "1 unmatched lab result." in nurse_client.get(reverse("worklist")).content.decode()


def test_it_logs_who_read_a_matched_patients_result(
    nurse_client: Client, nurse: User, alice: Patient, oru: Callable[..., str]
) -> None:
    message_receive(text=oru(observations=[("2132-9", "3000", "pg/mL")]))  # Alice's, queued (unusual)
    result = ReceivedResult.objects.get()
    assert result.patient is None
    ReceivedResult.objects.filter(pk=result.pk).update(patient=alice)
    nurse_client.get(reverse("labs_in:result", args=[result.pk]))
    assert AccessEvent.objects.filter(patients=alice, user=nurse).exists()


def test_the_queue_is_counted_the_same_for_loaded_clinics_as_for_a_queryset(oru: Callable[..., str]) -> None:
    """queue_count takes the clinics as a queryset (a subquery) or loaded (the dashboard's): results
    of a clinic's patients, unmatched ones sent to a clinic, and unmatched ones of an interface that
    serves every clinic (seen by the staff of any clinic, by nobody without one)."""
    from labs_in.selectors import queue_count

    north = Clinic.objects.get()
    south = Clinic.objects.create(name="South", slug="south")
    message_receive(text=oru(mrn="U-1"), clinic=south)  # unmatched, for South
    message_receive(text=oru(mrn="U-2"))  # unmatched, an interface of every clinic
    message_receive(text=oru(mrn="U-3"), clinic=north)
    for clinics in ([], [north], [south], [north, south]):
        as_queryset = Clinic.objects.filter(pk__in=[c.pk for c in clinics])
        assert queue_count(clinics=clinics) == queue_count(clinics=as_queryset), clinics
    assert [queue_count(clinics=c) for c in ([], [north], [south], [north, south])] == [0, 2, 2, 3]
