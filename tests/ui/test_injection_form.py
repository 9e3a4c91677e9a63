"""Logging an injection: prefilled from the regimen and the nurse's last lot, refused inputs shown on
their field with what was typed kept, early doses confirmed, and one injection per form."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic import actions
from patients.models import Injection, Patient
from protocols.models import ProtocolProfile
from tests.ui.builders import Clinic, days_ago, today

pytestmark = pytest.mark.django_db


def form_data(**overrides: Any) -> dict[str, Any]:
    now = timezone.localtime() - datetime.timedelta(minutes=5)
    data = {
        "given_at": now.strftime("%Y-%m-%dT%H:%M"),
        "drug": "cyanocobalamin",
        "dose_mcg": "1000",
        "route": "im",
        "site": "left_deltoid",
        "lot_number": "LOT-TYPED-77",
        "lot_expiry": (today() + datetime.timedelta(days=200)).isoformat(),
        "notes": "",
        "submission_key": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def url(patient: Patient) -> str:
    return reverse("injection_create", args=[patient.pk])


def test_it_prefills_the_regimen_the_other_side_and_the_nurses_last_lot(
    nurse_client: Client, clinic: Clinic, nurse
) -> None:
    hydroxo = ProtocolProfile.objects.get(slug="hydroxocobalamin-3-monthly")
    patient = clinic.patient(profile=hydroxo)
    clinic.inject(patient, days_ago(20), site="right_thigh", drug="hydroxocobalamin")
    other = clinic.patient()
    clinic.inject(other, days_ago(1), lot_number="MY-LAST-LOT", lot_expiry=today() + datetime.timedelta(days=30))

    form = nurse_client.get(url(patient)).context["form"]
    assert form["drug"].value() == "hydroxocobalamin"
    assert form["dose_mcg"].value() == 1000
    assert form["route"].value() == "im"
    assert form["site"].value() == "left_thigh"
    assert form["lot_number"].value() == "MY-LAST-LOT"
    assert form["lot_expiry"].value() == today() + datetime.timedelta(days=30)
    given_at = form["given_at"].value()
    assert abs(given_at - timezone.localtime().replace(tzinfo=None)) < datetime.timedelta(minutes=2)
    assert form["submission_key"].value()


def test_it_does_not_prefill_an_expired_lot_nor_another_nurses_lot(
    nurse_client: Client, clinic: Clinic, physician
) -> None:
    patient = clinic.patient()
    clinic.inject(patient, days_ago(10), lot_number="OLD", lot_expiry=days_ago(9))
    assert nurse_client.get(url(patient)).context["form"]["lot_number"].value() is None
    clinic.inject(patient, days_ago(3), lot_number="THEIRS", by=physician)
    form = nurse_client.get(url(patient)).context["form"]
    assert form["lot_number"].value() is None
    assert form["site"].value() == "right_deltoid"


def test_it_records_an_injection_and_goes_back_to_the_worklist(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.patient()
    response = nurse_client.post(url(patient), {**form_data(), "next": reverse("worklist")})
    assert response.status_code == 302
    assert response["Location"] == reverse("worklist")
    injection = patient.injections.get()
    assert injection.lot_number == "LOT-TYPED-77"
    page = nurse_client.get(response["Location"])
    assert b"Injection recorded for Alice Example" in page.content


def test_it_ignores_a_next_address_on_another_site(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.patient()
    response = nurse_client.post(url(patient), {**form_data(), "next": "https://evil.example/"})
    assert response["Location"] == reverse("patient_detail", args=[patient.pk])


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"given_at": "2999-01-01T10:00"}, "given_at", "This time is in the future."),
        ({"lot_expiry": "2020-01-31"}, "lot_expiry", "This lot had expired on the day the injection was given."),
        ({"lot_number": "   "}, "lot_number", "This field is required."),
        ({"dose_mcg": "0"}, "dose_mcg", "Ensure this value is greater than or equal to 1."),
        ({"given_at": "yesterday"}, "given_at", "Enter a valid date/time."),
    ],
)
def test_it_refuses_bad_input_on_the_field_and_keeps_what_was_typed(
    nurse_client: Client, clinic: Clinic, overrides: dict[str, str], field: str, message: str
) -> None:
    patient = clinic.patient()
    response = nurse_client.post(url(patient), form_data(**overrides))
    assert response.status_code == 200
    assert message in response.context["form"].errors[field]
    assert message.encode() in response.content.replace(b"&#x27;", b"'")
    for typed in overrides.values():
        if typed.strip():
            assert f'value="{typed}"'.encode() in response.content
    if "lot_number" not in overrides:
        assert b'value="LOT-TYPED-77"' in response.content
    assert not Injection.objects.exists()


def test_it_asks_to_confirm_a_maintenance_dose_much_earlier_than_due(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.on_time()  # maintenance, last dose 2 days ago: the next is weeks away
    before = patient.injections.count()
    data = form_data()
    response = nurse_client.post(url(patient), data)
    assert response.status_code == 200
    assert b'data-testid="warning-early_dose"' in response.content
    assert b'name="confirm" value="early_dose"' in response.content
    assert b"days early" in response.content
    assert b'value="LOT-TYPED-77"' in response.content
    assert patient.injections.count() == before

    confirmed = nurse_client.post(url(patient), {**data, "confirm": "early_dose"})
    assert confirmed.status_code == 302
    assert patient.injections.count() == before + 1


def test_it_asks_to_confirm_a_loading_dose_less_than_5_days_after_the_last(
    nurse_client: Client, clinic: Clinic
) -> None:
    patient = clinic.patient()
    clinic.inject(patient, days_ago(4))
    response = nurse_client.post(url(patient), form_data())
    assert b"Only 4 day(s) after the previous loading dose" in response.content
    assert patient.injections.count() == 1
    on_time = clinic.patient()
    clinic.inject(on_time, days_ago(5))
    assert nurse_client.post(url(on_time), form_data()).status_code == 302


def test_it_does_not_ask_when_the_dose_is_on_time(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.overdue(3)
    response = nurse_client.post(url(patient), form_data())
    assert response.status_code == 302
    page = nurse_client.get(url(patient))
    assert b'name="confirm"' not in page.content


def test_a_double_submit_records_one_injection(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.patient()
    data = form_data()
    first = nurse_client.post(url(patient), data)
    second = nurse_client.post(url(patient), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert patient.injections.count() == 1
    assert str(patient.injections.get().submission_key) == data["submission_key"]


def test_the_service_returns_the_first_injection_for_a_reused_key(injection_kwargs: dict[str, Any]) -> None:
    key = uuid.uuid4()
    first = actions.injection_record(**injection_kwargs, submission_key=key)
    again = actions.injection_record(**{**injection_kwargs, "lot_number": "OTHER"}, submission_key=key)
    assert again.pk == first.pk
    assert Injection.objects.count() == 1
    assert Injection.history.count() == 1
    again_confirmed = {**injection_kwargs, "confirmed": ["duplicate", "early_dose"]}  # asked otherwise
    actions.injection_record(**again_confirmed, submission_key=uuid.uuid4())
    actions.injection_record(**again_confirmed)
    actions.injection_record(**again_confirmed)  # no key: no deduplication by key
    assert Injection.objects.count() == 4


def test_the_service_refuses_a_key_used_for_another_patient(injection_kwargs: dict[str, Any], make_patient) -> None:
    key = uuid.uuid4()
    actions.injection_record(**injection_kwargs, submission_key=key)
    with pytest.raises(ValidationError) as refused:
        actions.injection_record(**{**injection_kwargs, "patient": make_patient()}, submission_key=key)
    assert "submission_key" in refused.value.message_dict


def test_the_database_refuses_a_second_row_with_the_same_key(injection_kwargs: dict[str, Any]) -> None:
    from django.db import IntegrityError, transaction

    key = uuid.uuid4()
    first = actions.injection_record(**injection_kwargs, submission_key=key)
    twin = Injection(
        patient=first.patient,
        given_at=first.given_at,
        drug=first.drug,
        dose_mcg=first.dose_mcg,
        route=first.route,
        site=first.site,
        lot_number=first.lot_number,
        lot_expiry=first.lot_expiry,
        given_by=first.given_by,
        submission_key=key,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
