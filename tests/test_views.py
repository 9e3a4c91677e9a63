"""Login is required everywhere; the login page and the admin work; history cannot be edited in admin."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from clinic import actions
from patients.models import Injection, Patient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/patients/1/", "/admin/"])
def test_it_sends_anonymous_users_to_the_login_page(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/") or response["Location"].startswith("/admin/login/")


def test_it_serves_the_login_page(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Log in to B12 Clinic" in response.content
    assert b'name="password"' in response.content


def test_it_logs_in_and_out(client: Client, nurse, patient: Patient) -> None:
    response = client.post("/accounts/login/", {"username": "nina", "password": "pw"})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/")["Location"] == reverse("worklist")  # a nurse starts on today's worklist
    patients = client.get(reverse("patient_list"))
    assert patient.mrn.encode() in patients.content
    assert client.post(reverse("logout")).status_code == 302
    assert client.get("/").status_code == 302


def test_it_refuses_a_wrong_password(client: Client, nurse) -> None:
    response = client.post("/accounts/login/", {"username": "nina", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_it_forbids_the_patient_list_to_users_without_a_role(client: Client, stranger) -> None:
    client.force_login(stranger)
    assert client.get("/").status_code == 403


MODELS = ["patient", "cause", "regimen", "injection", "labresult", "symptomcheck", "medication"]


@pytest.mark.parametrize("model", MODELS)
def test_it_has_admin_pages_for_every_clinical_model(client: Client, superuser, injection_kwargs, model: str) -> None:
    injection = actions.injection_record(**injection_kwargs)
    client.force_login(superuser)
    assert client.get(reverse(f"admin:patients_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:patients_{model}_add")).status_code == 200
    obj = {"patient": injection.patient, "regimen": injection.patient.regimen, "injection": injection}.get(model)
    if obj is not None:
        assert client.get(reverse(f"admin:patients_{model}_change", args=[obj.pk])).status_code == 200
        assert client.get(reverse(f"admin:patients_{model}_history", args=[obj.pk])).status_code == 200


def test_it_shows_saved_injections_read_only_in_admin(client: Client, superuser, injection_kwargs) -> None:
    injection = actions.injection_record(**injection_kwargs)
    client.force_login(superuser)
    url = reverse("admin:patients_injection_change", args=[injection.pk])
    page = client.get(url)
    assert b'name="lot_number"' not in page.content  # shown as text, not as an input
    response = client.post(url, {"lot_number": "CHANGED"})
    assert response.status_code == 403
    assert client.get(reverse("admin:patients_injection_delete", args=[injection.pk])).status_code == 403
    injection.refresh_from_db()
    assert injection.lot_number == "CY2601-01"


def test_it_adds_a_lab_result_in_admin_with_the_computed_canonical_value(client: Client, superuser, patient) -> None:
    client.force_login(superuser)
    data = {
        "patient": patient.pk,
        "analyte": "b12",
        "value_entered": "453",
        "unit_entered": "pmol/L",
        "collected_on": "2026-02-01",
        "entered_by": superuser.pk,
        "notes": "",
    }
    assert client.post(reverse("admin:patients_labresult_add"), data).status_code == 302
    assert str(patient.labs.get().value_canonical) == "613.9875"
    refused = client.post(reverse("admin:patients_labresult_add"), {**data, "unit_entered": "nmol/L"})
    assert refused.status_code == 200
    assert "not a unit for b12" in str(refused.context["adminform"].form.errors)
    assert patient.labs.count() == 1


def test_it_refuses_a_future_injection_in_admin(client: Client, superuser, patient) -> None:
    client.force_login(superuser)
    response = client.post(
        reverse("admin:patients_injection_add"),
        {
            "patient": patient.pk,
            "given_at_0": "2999-01-01",
            "given_at_1": "10:00",
            "drug": "cyanocobalamin",
            "dose_mcg": 1000,
            "route": "im",
            "site": "left_deltoid",
            "lot_number": "L1",
            "lot_expiry": "2999-12-31",
            "given_by": superuser.pk,
        },
    )
    assert response.status_code == 200
    assert "given_at" in response.context["adminform"].form.errors
    assert not Injection.objects.exists()
