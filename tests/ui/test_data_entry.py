"""Lab results (units of the analyte only, the canonical value shown), symptom checks, medications."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse

from patients.models import LabResult, Medication, Patient
from tests.ui.builders import days_ago, today

pytestmark = pytest.mark.django_db


def unit_options(html: bytes) -> list[str]:
    select = re.search(rb'<select name="unit".*?</select>', html, re.S)
    assert select is not None
    return [value.decode() for value in re.findall(rb'<option value="([^"]*)"', select.group(0))]


def test_it_offers_only_the_units_of_the_chosen_analyte(nurse_client: Client, patient: Patient) -> None:
    page = nurse_client.get(reverse("lab_create", args=[patient.pk]))
    assert unit_options(page.content) == ["pg/mL", "ng/L", "pmol/L"]
    assert b'id="analyte-units"' in page.content  # the data lab_units.js filters with
    assert page.context["analyte_units"]["mma"]["units"][1] == {"symbol": "umol/L", "multiply": "1000", "divide": "1"}

    refused = nurse_client.post(
        reverse("lab_create", args=[patient.pk]),
        {"analyte": "mma", "value": "0.3", "unit": "pg/mL", "collected_on": today().isoformat()},
    )
    assert unit_options(refused.content) == ["nmol/L", "umol/L"]


def test_it_saves_a_lab_and_shows_the_canonical_value(nurse_client: Client, patient: Patient) -> None:
    response = nurse_client.post(
        reverse("lab_create", args=[patient.pk]),
        {"analyte": "b12", "value": "453", "unit": "pmol/L", "collected_on": days_ago(1).isoformat()},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("patient_detail", args=[patient.pk])
    assert "Vitamin B12 453 pmol/L = 613.9875 pg/mL" in response.content.decode()
    assert "453 pmol/L</strong> = 614 pg/mL" in response.content.decode()  # rounded for reading
    lab = LabResult.objects.get()
    assert str(lab.value_canonical) == "613.9875"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"unit": "nmol/L"}, "unit", "'nmol/L' is not a unit for b12; use pg/mL, ng/L, pmol/L"),
        ({"value": "abc"}, "value", "'abc' is not a number"),
        ({"value": "-4"}, "value", "'-4' is negative; a lab value cannot be below 0"),
        ({"collected_on": "2999-01-01"}, "collected_on", "This date is in the future."),
    ],
)
def test_it_refuses_a_bad_lab_on_its_field_keeping_the_input(
    nurse_client: Client, patient: Patient, data: dict[str, str], field: str, message: str
) -> None:
    posted = {"analyte": "b12", "value": "321", "unit": "pg/mL", "collected_on": days_ago(1).isoformat(), **data}
    response = nurse_client.post(reverse("lab_create", args=[patient.pk]), posted)
    assert response.status_code == 200
    assert message in response.context["form"].errors[field]
    assert f'value="{posted["value"]}"'.encode() in response.content
    assert not LabResult.objects.exists()


def test_it_records_a_symptom_check(nurse_client: Client, patient: Patient) -> None:
    url = reverse("symptom_check_create", args=[patient.pk])
    assert nurse_client.get(url).status_code == 200
    response = nurse_client.post(url, {"checked_on": today().isoformat(), "neurological": "on", "notes": "tingling"})
    assert response.status_code == 302
    check = patient.symptom_checks.get()
    assert check.neurological and not check.depression
    future = nurse_client.post(url, {"checked_on": "2999-01-01"})
    assert "This date is in the future." in future.context["form"].errors["checked_on"]


def test_it_starts_and_stops_folic_acid(nurse_client: Client, patient: Patient) -> None:
    url = reverse("medication_create", args=[patient.pk])
    assert nurse_client.get(url).context["form"]["name"].value() == "folic_acid"
    assert nurse_client.post(url, {"name": "folic_acid", "start": days_ago(10).isoformat()}).status_code == 302
    medication = Medication.objects.get()
    chart = nurse_client.get(reverse("patient_detail", args=[patient.pk]))
    assert b"ALERT-FOLIC-BEFORE-B12" in chart.content  # folic acid before the loading doses

    stop_url = reverse("medication_stop", args=[patient.pk, medication.pk])
    too_early = nurse_client.post(stop_url, {"stop": (days_ago(10) - datetime.timedelta(days=1)).isoformat()})
    assert "The stop date cannot be before the start date." in too_early.context["form"].errors["stop"]
    assert nurse_client.post(stop_url, {"stop": today().isoformat()}).status_code == 302
    medication.refresh_from_db()
    assert medication.stop == today()


def test_it_asks_for_the_name_of_another_medication(nurse_client: Client, patient: Patient) -> None:
    response = nurse_client.post(
        reverse("medication_create", args=[patient.pk]), {"name": "other", "start": today().isoformat()}
    )
    assert "Name the medication." in response.context["form"].errors["detail"]
