"""Who may open what: anonymous users log in first, users without a role and nurses asking for a
decision get the 403 page, unknown patients the 404 page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from patients.models import Decision, Patient
from tests.ui.builders import Clinic

pytestmark = pytest.mark.django_db


def clinical_urls(patient: Patient) -> list[str]:
    return [
        reverse("home"),
        reverse("worklist"),
        reverse("dashboard"),
        reverse("patient_list"),
        reverse("patient_detail", args=[patient.pk]),
        reverse("injection_create", args=[patient.pk]),
        reverse("lab_create", args=[patient.pk]),
        reverse("symptom_check_create", args=[patient.pk]),
        reverse("medication_create", args=[patient.pk]),
        reverse("decision_create", args=[patient.pk, "interval"]),
    ]


def test_it_sends_anonymous_users_to_log_in(client: Client, patient: Patient) -> None:
    for url in clinical_urls(patient):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_it_refuses_every_clinical_page_to_a_user_without_a_role(client: Client, stranger, patient: Patient) -> None:
    client.force_login(stranger)
    for url in clinical_urls(patient):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"Not allowed" in response.content
    assert client.post(reverse("injection_create", args=[patient.pk]), {}).status_code == 403
    assert not patient.access_events.exists()  # refused: nothing was read


def test_it_sends_physicians_to_the_dashboard_and_nurses_to_the_worklist(client: Client, nurse, physician) -> None:
    client.force_login(nurse)
    assert client.get(reverse("home"))["Location"] == reverse("worklist")
    client.force_login(physician)
    assert client.get(reverse("home"))["Location"] == reverse("dashboard")


@pytest.mark.parametrize("kind", ["interval", "clear-interval", "approve-oral", "decline-oral", "acknowledge"])
def test_it_refuses_every_decision_to_a_nurse_on_the_server(nurse_client: Client, clinic: Clinic, kind: str) -> None:
    patient = clinic.candidate()
    url = reverse("decision_create", args=[patient.pk, kind])
    assert nurse_client.get(url).status_code == 403
    response = nurse_client.post(
        url, {"reason": "why not", "months": 2, "since": "2026-01-01", "alert_rule": "ALERT-B12-LOW"}
    )
    assert response.status_code == 403
    assert b"Not allowed" in response.content
    assert not Decision.objects.exists()
    patient.regimen.refresh_from_db()
    assert patient.regimen.oral_since is None and patient.regimen.maintenance_interval_months is None


def test_it_shows_decisions_to_nurses_without_the_buttons(nurse_client: Client, clinic: Clinic, physician) -> None:
    patient = clinic.candidate()
    from clinic.actions import decision_set_interval

    decision_set_interval(patient=patient, months=2, reason="Works away", by=physician)
    page = nurse_client.get(reverse("patient_detail", args=[patient.pk]))
    assert b"Works away" in page.content
    assert b"Maintenance interval set" in page.content
    assert b'data-testid="decision-actions"' not in page.content
    assert b"Decisions are made by a physician" in page.content


def test_it_answers_404_in_the_app_style_for_an_unknown_patient(nurse_client: Client) -> None:
    for url in (reverse("patient_detail", args=[999999]), reverse("injection_create", args=[999999])):
        response = nurse_client.get(url)
        assert response.status_code == 404
        assert b"Not found" in response.content
        assert b"Decision support" in response.content


def test_it_answers_404_for_an_unknown_decision(physician_client: Client, patient: Patient) -> None:
    assert physician_client.get(reverse("decision_create", args=[patient.pk, "stop-everything"])).status_code == 404


def test_it_says_on_every_page_that_the_protocol_is_decision_support(nurse_client: Client) -> None:
    page = nurse_client.get(reverse("worklist"))
    assert b"Decision support: the protocol never replaces the physician&#x27;s judgement" in page.content or (
        b"Decision support: the protocol never replaces the physician's judgement" in page.content
    )
    assert b"https://cdn" not in page.content and b"//cdn." not in page.content
