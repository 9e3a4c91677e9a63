"""The pages: correct an entry or mark it entered in error from the chart's timeline; soft warnings
asked beside their field with what was typed kept; hard limits named on their field."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic import actions
from patients.models import Injection, LabResult, Patient
from tests.ui.builders import Clinic, days_ago, today

pytestmark = pytest.mark.django_db


def _chart(client: Client, patient: Patient) -> str:
    return client.get(reverse("patient_detail", args=[patient.pk])).content.decode()


def _lab_data(**overrides: Any) -> dict[str, Any]:
    return {"analyte": "b12", "value": "321", "unit": "pg/mL", "collected_on": days_ago(1).isoformat(), **overrides}


def _injection_data(**overrides: Any) -> dict[str, Any]:
    return {
        "given_at": (timezone.localtime() - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        "drug": "cyanocobalamin",
        "dose_mcg": "1000",
        "route": "im",
        "site": "left_deltoid",
        "lot_number": "LOT-TYPED-77",
        "lot_expiry": (today() + datetime.timedelta(days=200)).isoformat(),
        "notes": "",
        "submission_key": str(uuid.uuid4()),
        **overrides,
    }


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1e309", "is not a number: use the digits 0-9"),
        ("nan", "is not a number: use the digits 0-9"),
        ("inf", "is not a number: use the digits 0-9"),
        ("\u0663\u0660\u0660", "is not a number: use the digits 0-9"),
        ("999999", "outside what can be measured"),
    ],
)
def test_the_lab_form_names_the_value_and_keeps_it(nurse_client: Client, patient: Patient, typed: str, message: str):
    response = nurse_client.post(reverse("lab_create", args=[patient.pk]), _lab_data(value=typed))
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors["value"])
    assert f'value="{typed}"'.encode() in response.content
    assert not LabResult.objects.exists()


def test_the_lab_form_refuses_long_notes(nurse_client: Client, patient: Patient) -> None:
    response = nurse_client.post(reverse("lab_create", args=[patient.pk]), _lab_data(notes="x" * 2001))
    assert "notes" in response.context["form"].errors
    assert b'maxlength="2000"' in response.content


def test_the_injection_form_refuses_other_digits_and_dates_before_1900(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.patient()
    url = reverse("injection_create", args=[patient.pk])
    response = nurse_client.post(url, _injection_data(dose_mcg="\u0663\u0660\u0660"))
    assert "digits 0-9" in response.context["form"].errors["dose_mcg"][0]
    response = nurse_client.post(url, _injection_data(lot_expiry="0001-01-01"))
    assert "1900" in response.context["form"].errors["lot_expiry"][0]
    assert not Injection.objects.exists()


def test_an_unusual_value_is_asked_beside_its_field_and_saved_once_confirmed(
    nurse_client: Client, patient: Patient, nurse
) -> None:
    url = reverse("lab_create", args=[patient.pk])
    asked = nurse_client.post(url, _lab_data(value="2500"))
    assert asked.status_code == 200
    page = asked.content.decode()
    assert 'data-testid="warning-unusual_value"' in page
    assert 'name="confirm" value="unusual_value"' in page
    assert 'value="2500"' in page  # what was typed is kept
    assert not LabResult.objects.exists()
    saved = nurse_client.post(url, {**_lab_data(value="2500"), "confirm": "unusual_value"})
    assert saved.status_code == 302
    lab = LabResult.objects.get()
    assert lab.confirmed_warnings[0]["by"] == nurse.username
    assert "Confirmed</span> by nina: 2500 pg/mL is outside the usual range" in _chart(nurse_client, patient)


def test_a_resubmitted_injection_form_with_a_new_key_asks_first(nurse_client: Client, clinic: Clinic) -> None:
    """What Back then Save does in Chromium: the same entry again, with a fresh one-time key."""
    patient = clinic.overdue(3)
    url = reverse("injection_create", args=[patient.pk])
    data = _injection_data()
    assert nurse_client.post(url, data).status_code == 302
    before = patient.injections.count()
    again = nurse_client.post(url, {**data, "submission_key": str(uuid.uuid4())})
    assert again.status_code == 200
    assert b"Already recorded: an injection at" in again.content
    assert patient.injections.count() == before
    confirm = [w.code for w in again.context["form"].confirmations]
    assert "duplicate" in confirm
    assert nurse_client.post(url, {**data, "submission_key": str(uuid.uuid4()), "confirm": confirm}).status_code == 302
    assert patient.injections.count() == before + 1


def test_a_nurse_corrects_an_injection_from_the_timeline(nurse_client: Client, clinic: Clinic, nurse) -> None:
    patient = clinic.patient()
    clinic.inject(patient, days_ago(1), dose_mcg=10000, confirmed=["dose"])
    injection = patient.injections.get()
    url = reverse("injection_correct", args=[patient.pk, injection.pk])
    assert f'href="{url}"' in _chart(nurse_client, patient)

    form = nurse_client.get(url)
    assert form.status_code == 200
    initial = {name: form.context["form"][name].value() for name in form.context["form"].fields}
    posted = {k: ("" if v is None else v) for k, v in initial.items()}
    posted["given_at"] = timezone.localtime(injection.given_at).strftime("%Y-%m-%dT%H:%M")
    posted["lot_expiry"] = injection.lot_expiry.isoformat()

    missing = nurse_client.post(url, {**posted, "dose_mcg": "1000", "reason": ""})
    assert "reason" in missing.context["form"].errors
    assert b'value="1000"' in missing.content

    done = nurse_client.post(url, {**posted, "dose_mcg": "1000", "reason": "Typed one zero too many"})
    assert done.status_code == 302
    injection.refresh_from_db()
    assert injection.dose_mcg == 1000
    chart = _chart(nurse_client, patient)
    assert "Corrected</span> by nina" in chart
    assert "dose mcg 10000 &rarr; 1000" in chart
    assert "Typed one zero too many" in chart


def test_a_lab_marked_entered_in_error_stays_struck_through_and_leaves_the_status(
    nurse_client: Client, clinic: Clinic
) -> None:
    patient = clinic.with_low_b12()
    lab = patient.labs.get()
    url = reverse("lab_void", args=[patient.pk, lab.pk])
    assert f'href="{url}"' in _chart(nurse_client, patient)
    assert patient.care_status.latest_b12 is not None

    assert "reason" in nurse_client.post(url, {"reason": ""}).context["form"].errors
    assert nurse_client.post(url, {"reason": "Another patient's tube"}).status_code == 302
    chart = _chart(nurse_client, patient)
    assert f'data-entry="lab-{lab.pk}" data-voided' in chart
    assert "Entered in error: marked by nina" in chart and "Another patient&#x27;s tube" in chart
    patient.care_status.refresh_from_db()
    assert patient.care_status.latest_b12 is None
    assert nurse_client.get(reverse("lab_correct", args=[patient.pk, lab.pk])).status_code == 200
    refused = nurse_client.post(url, {"reason": "again"})
    assert b"entered in error" in refused.content


def test_a_lab_correction_asks_like_a_new_entry(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.with_low_b12()
    lab = patient.labs.get()
    url = reverse("lab_correct", args=[patient.pk, lab.pk])
    data = {"value": "3000", "unit": "pg/mL", "collected_on": lab.collected_on.isoformat(), "reason": "misread"}
    asked = nurse_client.post(url, data)
    assert b'data-testid="warning-unusual_value"' in asked.content
    assert nurse_client.post(url, {**data, "confirm": "unusual_value"}).status_code == 302
    lab.refresh_from_db()
    assert lab.value_entered == 3000


@pytest.mark.parametrize("name", ["injection_correct", "injection_void", "lab_correct", "lab_void"])
def test_strangers_may_not_correct_or_void(client: Client, stranger, clinic: Clinic, name: str) -> None:
    patient = clinic.with_low_b12()
    entry = patient.labs.get() if name.startswith("lab") else patient.injections.first()
    client.force_login(stranger)
    assert client.get(reverse(name, args=[patient.pk, entry.pk])).status_code == 403
    assert client.post(reverse(name, args=[patient.pk, entry.pk]), {"reason": "x"}).status_code == 403


def test_an_entry_of_another_patient_is_not_found(nurse_client: Client, clinic: Clinic) -> None:
    one, other = clinic.with_low_b12(), clinic.patient()
    lab = one.labs.get()
    assert nurse_client.get(reverse("lab_void", args=[other.pk, lab.pk])).status_code == 404


def test_injection_delete_is_gone_from_the_actions() -> None:
    assert not hasattr(actions, "injection_delete")
