"""A physician's decisions: recorded with who, when and why, checked on the server at the moment they
are made (oral switch only for candidates, never for a permanent cause), acknowledgements hiding an
alert only while the same occurrence lasts."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from care.models import CareAlert, CareStatus, Severity
from care.selectors import unacknowledged_alerts
from clinic import actions
from patients.models import Decision
from tests.ui.builders import Clinic, today

pytestmark = pytest.mark.django_db


def decide(client: Client, patient, kind: str, **data):
    return client.post(reverse("decision_create", args=[patient.pk, kind]), data)


def test_it_approves_an_oral_switch_for_a_candidate(physician_client: Client, clinic: Clinic, physician) -> None:
    patient = clinic.candidate()
    assert CareStatus.objects.get(patient=patient).verdict == "oral_switch_candidate"
    chart = physician_client.get(reverse("patient_detail", args=[patient.pk]))
    assert b"Approve oral switch" in chart.content

    response = decide(physician_client, patient, "approve-oral", since=today().isoformat(), reason="Diet fixed")
    assert response.status_code == 302
    patient.regimen.refresh_from_db()
    assert patient.regimen.oral_since == today()
    decision = Decision.objects.get()
    assert (decision.kind, decision.made_by, decision.reason) == ("oral_switch_approved", physician, "Diet fixed")
    assert decision.details["verdict_rules"] == ["STOP-DIETARY-ORAL"]
    assert CareStatus.objects.get(patient=patient).phase == "oral"
    assert decision.history.count() == 1


def test_it_refuses_an_oral_switch_for_a_patient_who_is_not_a_candidate(
    physician_client: Client, clinic: Clinic
) -> None:
    patient = clinic.on_time()  # no cause recorded: continue
    response = decide(physician_client, patient, "approve-oral", since=today().isoformat(), reason="Why not")
    assert response.status_code == 200
    assert "does not list this patient as an oral-switch candidate" in response.content.decode()
    assert b"Why not" in response.content  # what was typed is kept
    patient.regimen.refresh_from_db()
    assert patient.regimen.oral_since is None and not Decision.objects.exists()


def test_it_never_switches_a_permanent_cause_to_oral(physician_client: Client, clinic: Clinic, physician) -> None:
    patient = clinic.lifelong()
    response = decide(physician_client, patient, "approve-oral", since=today().isoformat(), reason="Asked for it")
    assert "Injections are lifelong for this patient" in response.content.decode()
    assert "STOP-PERNICIOUS" in response.content.decode()
    with pytest.raises(ValidationError):
        actions.decision_approve_oral_switch(patient=patient, since=today(), reason="x", by=physician)
    patient.regimen.refresh_from_db()
    assert patient.regimen.oral_since is None


def test_it_checks_the_verdict_again_when_the_approval_is_posted(physician_client: Client, clinic: Clinic) -> None:
    patient = clinic.candidate()
    form = physician_client.get(reverse("decision_create", args=[patient.pk, "approve-oral"]))
    assert form.status_code == 200
    clinic.lab(patient, today(), "b12", "150", "pg/mL")  # a low B12 arrives meanwhile
    response = decide(physician_client, patient, "approve-oral", since=today().isoformat(), reason="Diet fixed")
    assert response.status_code == 200
    assert "not list this patient as an oral-switch candidate" in response.content.decode()
    patient.regimen.refresh_from_db()
    assert patient.regimen.oral_since is None


def test_a_declined_candidate_waits_for_new_results(physician_client: Client, clinic: Clinic) -> None:
    patient = clinic.candidate()
    response = decide(physician_client, patient, "decline-oral", reason="Prefers injections")
    assert response.status_code == 302
    board = physician_client.get(reverse("dashboard")).context["board"]
    assert board.oral_candidates == []
    clinic.lab(patient, today(), "b12", "600", "pg/mL")
    board = physician_client.get(reverse("dashboard")).context["board"]
    assert [s.patient_id for s in board.oral_candidates] == [patient.pk]


def test_it_sets_and_clears_an_interval_with_a_reason(physician_client: Client, clinic: Clinic) -> None:
    patient = clinic.on_time()
    missing = decide(physician_client, patient, "interval", months="2", reason="  ")
    assert "This field is required." in missing.context["form"].errors["reason"]
    too_long = decide(physician_client, patient, "interval", months="13", reason="Travel")
    assert too_long.context["form"].errors["months"]
    assert decide(physician_client, patient, "interval", months="2", reason="Travel").status_code == 302
    patient.regimen.refresh_from_db()
    assert patient.regimen.maintenance_interval_months == 2
    assert CareStatus.objects.get(patient=patient).maintenance_interval_months == 2

    assert decide(physician_client, patient, "clear-interval", reason="Back home").status_code == 302
    patient.regimen.refresh_from_db()
    assert patient.regimen.maintenance_interval_months is None
    cleared = Decision.objects.get(kind="interval_override_cleared")
    assert cleared.details == {"previous_months": 2, "previous_reason": "Travel"}
    again = decide(physician_client, patient, "clear-interval", reason="Twice")
    assert "There is no physician-set interval to clear." in again.content.decode()


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        (actions.decision_set_interval, {"months": 2}),
        (actions.decision_clear_interval, {}),
        (actions.decision_approve_oral_switch, {"since": datetime.date(2026, 1, 1)}),
        (actions.decision_decline_oral_switch, {}),
        (actions.decision_acknowledge_alert, {"alert_rule": "ALERT-B12-LOW"}),
    ],
)
def test_every_decision_service_refuses_a_nurse(clinic: Clinic, nurse, call, kwargs) -> None:
    patient = clinic.candidate()
    with pytest.raises(PermissionDenied):
        call(patient=patient, reason="r", by=nurse, **kwargs)
    assert not Decision.objects.exists()


# Acknowledgements ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "acknowledged_since", "rule", "hidden"),
    [
        ("2026-03-01", "2026-03-01", "ALERT-B12-LOW", True),  # acknowledged the day it fired
        ("2026-02-01", "2026-02-01", "ALERT-B12-LOW", True),  # the same occurrence, acknowledged later on
        ("2026-03-02", "2026-02-01", "ALERT-B12-LOW", False),  # cleared and fired again
        ("2026-02-01", "2026-02-01", "ALERT-IRON-DEFICIENCY", False),  # another alert
    ],
)
def test_an_acknowledgement_covers_one_occurrence(
    patient, physician, since: str, acknowledged_since: str, rule: str, hidden: bool
) -> None:
    CareAlert.objects.filter(patient=patient).delete()
    CareAlert.objects.create(
        patient=patient,
        rule="ALERT-B12-LOW",
        severity=Severity.HIGH,
        since=datetime.date.fromisoformat(since),
        message="low",
    )
    Decision.objects.create(
        patient=patient,
        kind="alert_acknowledged",
        made_by=physician,
        made_at=timezone.now(),
        reason="seen",
        alert_rule=rule,
        alert_since=datetime.date.fromisoformat(acknowledged_since),
    )
    shown = unacknowledged_alerts().filter(patient=patient, rule="ALERT-B12-LOW").exists()
    assert shown is not hidden


def test_an_acknowledged_alert_shows_again_when_it_comes_back(clinic: Clinic, physician, client: Client) -> None:
    client.force_login(physician)
    start = timezone.now() - datetime.timedelta(days=10)

    def alert_rows() -> list[tuple[int, str]]:
        board = client.get(reverse("dashboard")).context["board"]
        return [(row.patient.pk, row.alert["rule"]) for row in board.alerts if row.alert["rule"] == "ALERT-B12-LOW"]

    with time_machine.travel(start, tick=False):
        patient = clinic.with_low_b12()
        assert alert_rows() == [(patient.pk, "ALERT-B12-LOW")]
        response = client.post(
            reverse("decision_create", args=[patient.pk, "acknowledge"]),
            {"alert_rule": "ALERT-B12-LOW", "reason": "Repeat B12 ordered"},
        )
        assert response.status_code == 302
        assert alert_rows() == []
    with time_machine.travel(start + datetime.timedelta(days=3), tick=False):
        assert alert_rows() == []  # still the same occurrence
        clinic.lab(patient, timezone.localdate(), "b12", "420", "pg/mL")  # the alert clears
    with time_machine.travel(start + datetime.timedelta(days=6), tick=False):
        clinic.lab(patient, timezone.localdate(), "b12", "110", "pg/mL")  # and fires again
        assert alert_rows() == [(patient.pk, "ALERT-B12-LOW")]
    decision = Decision.objects.get(kind="alert_acknowledged")
    assert decision.alert_since == timezone.localdate(start)


def test_it_refuses_to_acknowledge_an_alert_that_is_not_active(physician_client: Client, clinic: Clinic) -> None:
    patient = clinic.with_low_b12()
    page = physician_client.get(reverse("decision_create", args=[patient.pk, "acknowledge"]) + "?alert=ALERT-B12-LOW")
    assert page.context["form"]["alert_rule"].value() == "ALERT-B12-LOW"
    response = decide(physician_client, patient, "acknowledge", alert_rule="ALERT-VITAMIN-D-LOW", reason="x")
    assert response.context["form"].errors["alert_rule"]
    assert not Decision.objects.exists()
