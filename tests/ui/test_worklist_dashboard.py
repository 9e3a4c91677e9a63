"""The nurse's worklist and the physician's dashboard list the right patients, in the right order,
from the due dates compared with today (not only the stored alerts)."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from care import selectors
from care.models import CareStatus
from clinic import actions
from tests.conftest import EVERY_CLINIC
from tests.ui.builders import Clinic, days_ago, today

pytestmark = pytest.mark.django_db


def mrns(rows) -> list[str]:
    return [row.patient.mrn for row in rows]


def test_it_lists_injections_due_with_the_most_overdue_first(nurse_client: Client, clinic: Clinic, nurse) -> None:
    due_today = clinic.due_today(family_name="Today")
    late = clinic.overdue(9, family_name="Late")
    later = clinic.overdue(30, family_name="Later")
    clinic.on_time(family_name="Fine")
    discharged = clinic.overdue(5, family_name="Gone")
    actions.patient_discharge(patient=discharged, by=nurse)

    page = nurse_client.get(reverse("worklist"))
    rows = page.context["worklist"].injections
    assert mrns(rows) == [later.mrn, late.mrn, due_today.mrn]
    assert [row.days_overdue for row in rows] == [30, 9, 0]
    html = page.content.decode()
    assert "30 days overdue" in html and "9 days overdue" in html and "Due today" in html
    assert html.index(later.mrn) < html.index(late.mrn) < html.index(due_today.mrn)


def test_it_leaves_patients_lost_to_follow_up_to_the_dashboard(nurse_client: Client, clinic: Clinic) -> None:
    recent = clinic.overdue(60, family_name="Sixty")
    lost = clinic.overdue(61, family_name="SixtyOne")
    page = nurse_client.get(reverse("worklist"))
    listed = page.context["worklist"]
    assert mrns(listed.injections) == [recent.mrn] and listed.lost == 1
    html = page.content.decode()
    assert lost.mrn not in html and "1 patient more than 60 days overdue" in html


def test_it_shows_a_long_worklist_a_page_at_a_time(nurse_client: Client, clinic: Clinic, monkeypatch) -> None:
    monkeypatch.setattr(selectors, "WORKLIST_LIMIT", 2)
    patients = [clinic.overdue(days, family_name=f"Late{days}") for days in (3, 2, 1)]
    page = nurse_client.get(reverse("worklist"))
    assert mrns(page.context["worklist"].injections) == [patients[0].mrn, patients[1].mrn]
    assert page.context["worklist"].injections_total == 3
    assert "Showing the first 2 of 3" in page.content.decode()
    every = nurse_client.get(reverse("worklist") + "?all=1").context["worklist"]
    assert mrns(every.injections) == [p.mrn for p in patients]


def test_it_counts_overdue_from_the_dates_before_the_daily_refresh(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.overdue(-1)  # due tomorrow: no alert, not on the list
    assert patient.mrn not in mrns(nurse_client.get(reverse("worklist")).context["worklist"].injections)
    # The stored status from yesterday: due "today" then, so one day overdue now, with no alert stored.
    status = CareStatus.objects.get(patient=patient)
    status.next_injection_due = days_ago(1)
    status.alerts, status.alert_rules = [], ""
    status.save()
    rows = nurse_client.get(reverse("worklist")).context["worklist"].injections
    assert [(row.patient.mrn, row.days_overdue) for row in rows] == [(patient.mrn, 1)]


def test_it_lists_rechecks_due_within_a_week_with_the_labs_to_draw(nurse_client: Client, clinic: Clinic) -> None:
    patient = clinic.recheck_due()
    status = CareStatus.objects.get(patient=patient)
    assert status.next_recheck_due <= today() + datetime.timedelta(days=7)
    page = nurse_client.get(reverse("worklist"))
    assert mrns(page.context["worklist"].rechecks) == [patient.mrn]
    assert "Full blood count" in page.content.decode() and "Iron studies" in page.content.decode()
    assert b"within 7 days" in page.content

    status.next_recheck_due = status.labs_due_on = today() + datetime.timedelta(days=8)
    status.save()
    assert nurse_client.get(reverse("worklist")).context["worklist"].rechecks == []


def test_the_dashboard_lists_each_group(physician_client: Client, clinic: Clinic) -> None:
    overdue = clinic.overdue(10)
    lost = clinic.overdue(61)
    edge = clinic.overdue(60)  # exactly 60 days: still overdue, not lost
    low = clinic.with_low_b12()
    candidate = clinic.candidate()
    recheck = clinic.recheck_due()
    board = physician_client.get(reverse("dashboard")).context["board"]

    assert mrns(board.overdue) == [edge.mrn, overdue.mrn]
    assert mrns(board.lost) == [lost.mrn]
    assert board.counts["overdue"] == 2 and board.counts["lost"] == 1
    assert [s.patient.mrn for s in board.oral_candidates] == [candidate.mrn]
    assert (low.mrn, "ALERT-B12-LOW") in [(row.patient.mrn, row.alert["rule"]) for row in board.alerts]
    assert all(row.alert["severity"] in ("high", "medium") for row in board.alerts)
    assert recheck.mrn in mrns(board.rechecks_soon) + mrns(board.rechecks_overdue)


def test_the_dashboard_lists_overdue_rechecks(physician_client: Client, clinic: Clinic) -> None:
    patient = clinic.recheck_due()
    status = CareStatus.objects.get(patient=patient)
    status.next_recheck_due = days_ago(3)
    status.save()
    board = physician_client.get(reverse("dashboard")).context["board"]
    assert [(row.patient.mrn, row.days_overdue) for row in board.rechecks_overdue] == [(patient.mrn, 3)]
    assert board.counts["rechecks_overdue"] == 1


def test_the_dashboard_filters_by_alert_and_by_cause(physician_client: Client, clinic: Clinic) -> None:
    low = clinic.with_low_b12()
    candidate = clinic.candidate()
    clinic.overdue(10)

    by_alert = physician_client.get(reverse("dashboard"), {"alert": "ALERT-B12-LOW"}).context["board"]
    assert {row.patient.mrn for row in by_alert.alerts} == {low.mrn}
    assert {row.alert["rule"] for row in by_alert.alerts} == {"ALERT-B12-LOW"}
    assert by_alert.overdue == [] and by_alert.oral_candidates == []

    by_cause = physician_client.get(reverse("dashboard"), {"cause": "dietary"}).context["board"]
    assert [s.patient.mrn for s in by_cause.oral_candidates] == [candidate.mrn]
    assert by_cause.overdue == [] and low.mrn not in mrns(by_cause.alerts)

    ignored = physician_client.get(reverse("dashboard"), {"alert": "DROP TABLE", "cause": "x"})
    assert ignored.status_code == 200
    assert not ignored.context["board"].filters.active


def test_search_finds_by_name_or_mrn(nurse_client: Client, clinic: Clinic) -> None:
    ada = clinic.patient(given_name="Ada", family_name="Lovelace")
    clinic.patient(given_name="Alan", family_name="Turing")
    assert [p.pk for p in selectors.patient_search(query="love", clinics=EVERY_CLINIC)] == [ada.pk]
    assert [p.pk for p in selectors.patient_search(query="ada lovelace", clinics=EVERY_CLINIC)] == [ada.pk]
    assert [p.pk for p in selectors.patient_search(query=ada.mrn.lower(), clinics=EVERY_CLINIC)] == [ada.pk]
    live = nurse_client.post(reverse("patient_list"), {"q": "Lovel"}, headers={"HX-Request": "true"})
    assert b"Lovelace" in live.content and b"Turing" not in live.content
    assert b"<nav" not in live.content
    full = nurse_client.post(reverse("patient_list"), {"q": "nobody-like-this"})
    assert b"No patient matches" in full.content


def test_the_dashboard_lists_a_page_of_each_list_with_complete_counts(
    physician_client: Client, clinic: Clinic, monkeypatch
) -> None:
    monkeypatch.setattr(selectors, "LIST_LIMIT", 2)
    late = [clinic.overdue(days, family_name=f"Late{days}") for days in (5, 4, 3)]
    board = physician_client.get(reverse("dashboard")).context["board"]
    assert mrns(board.overdue) == [late[0].mrn, late[1].mrn] and board.counts["overdue"] == 3
    assert b"Show every patient" in physician_client.get(reverse("dashboard")).content
    every = physician_client.get(reverse("dashboard") + "?all=1").context["board"]
    assert mrns(every.overdue) == [p.mrn for p in late]
