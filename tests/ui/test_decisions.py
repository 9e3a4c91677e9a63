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
from tests.conftest import EVERY_CLINIC
from tests.ui.builders import Clinic, today

pytestmark = pytest.mark.django_db


def decide(client: Client, patient, kind: str, **data):
    return client.post(reverse("decision_create", args=[patient.pk, kind]), data)


def test_it_approves_an_oral_switch_for_a_candidate(physician_client: Client, clinic: Clinic, physician) -> None:
    patient = clinic.candidate()
    assert CareStatus.objects.get(patient=patient).verdict == "oral_switch_candidate"
    chart = physician_client.get(reverse("patient_detail", args=[patient.pk]))
    assert b"Approve oral switch" in chart.content

    response = decide(
        physician_client, patient, "approve-oral", since=today().isoformat(), dose_mcg="1000", reason="Diet fixed"
    )
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
    response = decide(
        physician_client, patient, "approve-oral", since=today().isoformat(), dose_mcg="1000", reason="Why not"
    )
    assert response.status_code == 200
    assert "does not list this patient as an oral-switch candidate" in response.content.decode()
    assert b"Why not" in response.content  # what was typed is kept
    patient.regimen.refresh_from_db()
    assert patient.regimen.oral_since is None and not Decision.objects.exists()


def test_it_never_switches_a_permanent_cause_to_oral(physician_client: Client, clinic: Clinic, physician) -> None:
    patient = clinic.lifelong()
    response = decide(
        physician_client, patient, "approve-oral", since=today().isoformat(), dose_mcg="1000", reason="Asked for it"
    )
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
    response = decide(
        physician_client, patient, "approve-oral", since=today().isoformat(), dose_mcg="1000", reason="Diet fixed"
    )
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
    missing = decide(physician_client, patient, "interval", every="2", unit="months", reason="  ")
    assert "This field is required." in missing.context["form"].errors["reason"]
    too_long = decide(physician_client, patient, "interval", every="13", unit="months", reason="Travel")
    assert "1 to 12 months" in too_long.context["form"].errors["every"][0]
    assert decide(physician_client, patient, "interval", every="2", unit="months", reason="Travel").status_code == 302
    patient.regimen.refresh_from_db()
    assert patient.regimen.maintenance_interval_months == 2
    assert CareStatus.objects.get(patient=patient).maintenance_interval_months == 2

    assert decide(physician_client, patient, "clear-interval", reason="Back home").status_code == 302
    patient.regimen.refresh_from_db()
    assert patient.regimen.maintenance_interval_months is None
    cleared = Decision.objects.get(kind="interval_override_cleared")
    assert cleared.details == {"previous_months": 2, "previous_days": None, "previous_reason": "Travel"}
    again = decide(physician_client, patient, "clear-interval", reason="Twice")
    assert "There is no physician-set interval to clear." in again.content.decode()


@pytest.mark.parametrize(
    ("every", "unit", "error"),
    [
        ("2", "days", "3 to 90 days"),
        ("3", "days", None),
        ("90", "days", None),
        ("91", "days", "Ensure this value is less than or equal to 90."),
        ("0", "months", "Ensure this value is greater than or equal to 1."),
        ("1", "months", None),
        ("12", "months", None),
        ("0.5", "months", "Enter a whole number."),
    ],
)
def test_it_takes_an_interval_in_days_or_months_at_its_boundaries(
    physician_client: Client, clinic: Clinic, every: str, unit: str, error: str | None
) -> None:
    patient = clinic.on_time()
    response = decide(physician_client, patient, "interval", every=every, unit=unit, reason="Neuropathy")
    regimen = type(patient.regimen).objects.get(pk=patient.regimen.pk)
    if error:
        assert error in " ".join(response.context["form"].errors["every"])
        assert (regimen.maintenance_interval_months, regimen.maintenance_interval_days) == (None, None)
    else:
        assert response.status_code == 302
        value = (int(every), None) if unit == "months" else (None, int(every))
        assert (regimen.maintenance_interval_months, regimen.maintenance_interval_days) == value


def test_a_two_weekly_interval_moves_the_next_injection_and_the_early_dose_question(
    physician_client: Client, clinic: Clinic, physician
) -> None:
    patient = clinic.on_time()
    last = max(i.given_at for i in patient.injections.all())
    actions.decision_set_interval(patient=patient, days=14, reason="Neuropathy: two-weekly", by=physician)
    status = CareStatus.objects.get(patient=patient)
    assert (status.maintenance_interval_days, status.maintenance_interval_months) == (14, None)
    assert status.next_injection_due == timezone.localdate(last) + datetime.timedelta(days=14)
    assert status.because["maintenance_interval_days"] == ["SCHED-OVERRIDE"]
    decision = Decision.objects.get(kind="interval_override_set")
    assert (decision.details["days"], decision.details["months"]) == (14, None)
    chart = physician_client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "every 14 days" in chart


def test_it_sets_a_recheck_date_that_wins_until_a_b12_is_in(physician_client: Client, clinic: Clinic) -> None:
    patient = clinic.on_time()
    rules_say = CareStatus.objects.get(patient=patient).next_recheck_due
    on = today() + datetime.timedelta(days=20)
    past = decide(
        physician_client, patient, "recheck", on=(today() - datetime.timedelta(days=1)).isoformat(), reason="x"
    )
    assert "cannot be in the past" in past.context["form"].errors["on"][0]
    assert decide(physician_client, patient, "recheck", on=on.isoformat(), reason="Recheck soon").status_code == 302
    status = CareStatus.objects.get(patient=patient)
    assert (status.next_recheck_due, status.recheck_override_in_force, status.rules_recheck_due) == (
        on,
        True,
        rules_say,
    )
    chart = physician_client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "set by physician" in chart and "Recheck soon" in chart
    assert decide(physician_client, patient, "clear-recheck", reason="Not needed").status_code == 302
    status = CareStatus.objects.get(patient=patient)
    assert (status.next_recheck_due, status.recheck_override_in_force) == (rules_say, False)


@pytest.mark.parametrize(("days_ahead", "spent"), [(14, True), (15, False)])
def test_a_b12_from_14_days_before_the_recheck_date_spends_it(
    clinic: Clinic, physician, days_ahead: int, spent: bool
) -> None:
    patient = clinic.on_time()
    on = today() + datetime.timedelta(days=days_ahead)
    actions.decision_set_recheck_date(patient=patient, on=on, reason="Recheck soon", by=physician, today=today())
    assert CareStatus.objects.get(patient=patient).recheck_override_in_force
    clinic.lab(patient, today(), "b12", "500", "pg/mL")  # dated `days_ahead` days before the recheck date
    status = CareStatus.objects.get(patient=patient)
    assert status.recheck_override_in_force is not spent
    assert (status.next_recheck_due == on) is not spent


def test_an_oral_switch_records_the_dose_and_a_first_recheck_and_can_be_undone(
    physician_client: Client, clinic: Clinic
) -> None:
    patient = clinic.candidate()
    recheck = today() + datetime.timedelta(days=91)
    for dose, error in (("999", "greater than or equal to 1000"), ("2001", "less than or equal to 2000")):
        refused = decide(
            physician_client, patient, "approve-oral", since=today().isoformat(), dose_mcg=dose, reason="x"
        )
        assert error in refused.context["form"].errors["dose_mcg"][0]
    response = decide(
        physician_client,
        patient,
        "approve-oral",
        since=today().isoformat(),
        dose_mcg="2000",
        recheck_on=recheck.isoformat(),
        reason="Diet fixed; recheck in 3 months",
    )
    assert response.status_code == 302
    patient.regimen.refresh_from_db()
    assert (patient.regimen.oral_dose_mcg, patient.regimen.recheck_on) == (2000, recheck)
    status = CareStatus.objects.get(patient=patient)
    assert (status.phase, status.next_recheck_due, status.next_injection_due) == ("oral", recheck, None)
    chart = physician_client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "2000 mcg daily" in chart and "Oral-switch candidate" not in chart and "Resume injections" in chart

    assert decide(physician_client, patient, "resume-injections", reason="Paresthesia is back").status_code == 302
    patient.regimen.refresh_from_db()
    assert (patient.regimen.oral_since, patient.regimen.oral_dose_mcg) == (None, None)
    status = CareStatus.objects.get(patient=patient)
    assert status.phase == "maintenance" and status.next_injection_due is not None
    resumed = Decision.objects.get(kind="injections_resumed")
    assert resumed.details == {"previous_oral_since": today().isoformat(), "previous_dose_mcg": 2000}
    again = decide(physician_client, patient, "resume-injections", reason="Twice")
    assert "not on oral therapy" in again.content.decode()


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        (actions.decision_set_interval, {"months": 2}),
        (actions.decision_clear_interval, {}),
        (actions.decision_approve_oral_switch, {"since": datetime.date(2026, 1, 1)}),
        (actions.decision_set_recheck_date, {"on": datetime.date(2026, 6, 1)}),
        (actions.decision_clear_recheck_date, {}),
        (actions.decision_resume_injections, {}),
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
        clinic=patient.clinic,
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
    shown = unacknowledged_alerts(EVERY_CLINIC).filter(patient=patient, rule="ALERT-B12-LOW").exists()
    assert shown is not hidden


def test_an_acknowledged_alert_shows_again_when_it_comes_back(
    clinic: Clinic, physician, client: Client, settings
) -> None:
    settings.SESSION_IDLE_MINUTES = 60 * 24 * 30  # the clock jumps days between pages here
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
