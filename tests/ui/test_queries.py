"""Every page runs a bounded number of queries, the same bound at 10 and at 200 patients."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from care import selectors
from care.models import CareAlert
from clinic import actions
from patients.models import LabResult
from tests.ui.builders import Clinic

pytestmark = pytest.mark.django_db

# Each page also writes its access-log row: the event and its patients, in a savepoint (2 more
# queries inside the test's transaction only).
ACCESS_LOG = 4
WORKLIST_MAX = 10 + ACCESS_LOG
DASHBOARD_MAX = 20 + ACCESS_LOG
CHART_MAX = 30 + ACCESS_LOG
SEARCH_MAX = 8 + ACCESS_LOG
ENTRY_FORM_MAX = 10 + ACCESS_LOG  # correct / entered-in-error pages of one injection or lab result


@pytest.mark.parametrize("count", [10, 200])
def test_it_renders_every_page_in_a_bounded_number_of_queries(
    count: int, clinic: Clinic, physician_client: Client, django_assert_max_num_queries
) -> None:
    patients = clinic.panel(count)
    busiest = max(patients, key=lambda p: p.injections.count())

    with django_assert_max_num_queries(WORKLIST_MAX):
        worklist = physician_client.get(reverse("worklist"))
    with django_assert_max_num_queries(DASHBOARD_MAX):
        dashboard = physician_client.get(reverse("dashboard"))
    with django_assert_max_num_queries(DASHBOARD_MAX):
        filtered = physician_client.get(reverse("dashboard"), {"alert": "ALERT-B12-LOW", "cause": "dietary"})
    with django_assert_max_num_queries(CHART_MAX):
        chart = physician_client.get(reverse("patient_detail", args=[busiest.pk]))
    with django_assert_max_num_queries(SEARCH_MAX):
        search = physician_client.post(reverse("patient_list"), {"q": "Over"})
    with django_assert_max_num_queries(SEARCH_MAX):
        live = physician_client.post(reverse("patient_list"), {"q": "UI-"}, headers={"HX-Request": "true"})

    injection = busiest.injections.first()
    lab = LabResult.objects.select_related("patient").first()
    entry_pages = []
    for name, patient_id, entry_id in (
        ("injection_correct", busiest.pk, injection.pk),
        ("injection_void", busiest.pk, injection.pk),
        ("lab_correct", lab.patient_id, lab.pk),
        ("lab_void", lab.patient_id, lab.pk),
    ):
        with django_assert_max_num_queries(ENTRY_FORM_MAX):
            entry_pages.append(physician_client.get(reverse(name, args=[patient_id, entry_id])))

    for response in (worklist, dashboard, filtered, chart, search, live, *entry_pages):
        assert response.status_code == 200
    assert b"<html" not in live.content  # the htmx answer is the results table alone
    assert dashboard.context["board"].counts["lost"] > 0
    assert len(worklist.context["worklist"].injections) > 0


@pytest.mark.parametrize("count", [10, 200])
def test_the_counts_and_lists_run_the_same_queries_at_any_size(
    count: int, clinic: Clinic, physician, django_assert_num_queries
) -> None:
    """Exactly, not at most: one query for the worklist's totals, four for the dashboard's (the due
    dates, the oral-switch candidates, the alerts and the acknowledged ones), one more per list."""
    patients = clinic.panel(count)
    alert = CareAlert.objects.filter(patient__in=patients, severity__gte=2).order_by("pk").first()
    actions.decision_acknowledge_alert(patient=alert.patient, alert_rule=alert.rule, reason="Seen", by=physician)
    today, clinics = timezone.localdate(), [clinic.home]
    with django_assert_num_queries(1):
        totals = selectors.worklist_counts(today=today, clinics=clinics)
    with django_assert_num_queries(3):
        worklist = selectors.worklist(today=today, clinics=clinics)
    with django_assert_num_queries(4):
        counts = selectors.dashboard_counts(today=today, clinics=clinics)
    with django_assert_num_queries(10):
        board = selectors.dashboard(today=today, clinics=clinics, limit=None)
    # The rows hold what the pages and exports read: no query per row afterwards.
    with django_assert_num_queries(0):
        shown = [
            (row.patient.full_name, row.patient.mrn, row.patient.birth_date, row.status.phase)
            + (row.status.labs_to_draw, row.status.next_injection_due, row.status.labs_due_on)
            for row in (*worklist.injections, *worklist.rechecks)
        ]
        shown += [
            (row.patient.full_name, row.patient.birth_date, row.status.verdict, row.status.recheck_labs)
            for row in (*board.overdue, *board.lost, *board.rechecks_soon, *board.rechecks_overdue)
        ]
        shown += [(s.patient.full_name, s.latest_b12, s.verdict_rules) for s in board.oral_candidates]
        shown += [(row.patient.full_name, row.alert) for row in board.alerts]
    assert len(shown) > count // 2
    assert totals["injections"] == worklist.injections_total > 0 and counts == board.counts
    assert counts["lost"] > 0 and counts["alerts_high"] + counts["alerts_medium"] == len(board.alerts)
    assert (alert.patient_id, alert.rule) not in {
        (row.care_alert.patient_id, row.care_alert.rule) for row in board.alerts
    }


JOURNEY_FORM_MAX = 10


@pytest.mark.parametrize("count", [10, 200])
def test_the_journey_pages_run_a_bounded_number_of_queries(
    count: int, clinic: Clinic, physician_client: Client, django_assert_max_num_queries
) -> None:
    patients = clinic.panel(count)
    patient = max(patients, key=lambda p: p.injections.count())
    cause = clinic.lifelong().causes.get()
    pages = [
        reverse("patient_create"),
        reverse("patient_contact_edit", args=[patient.pk]),
        reverse("patient_clinical_edit", args=[patient.pk]),
        reverse("profile_change", args=[patient.pk]),
        reverse("cause_create", args=[patient.pk]),
        reverse("cause_edit", args=[cause.patient_id, cause.pk]),
        reverse("lab_panel_create", args=[patient.pk]),
        reverse("patient_discharge", args=[patient.pk]),
        reverse("reminders:list"),
    ]
    for url in pages:
        with django_assert_max_num_queries(JOURNEY_FORM_MAX):
            assert physician_client.get(url).status_code == 200, url
