"""A physician's decisions as the guidance describes them, in Chromium: a two-weekly regimen for
persistent neurological symptoms, an oral switch with a 3-month recheck, and back to injections."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from care.models import CareStatus
from clinic import actions
from patients.models import Decision
from tests.browser.conftest import BrowserErrors, browser_db
from tests.browser.test_clinic_in_a_browser import log_in
from tests.ui.builders import Clinic

pytestmark = browser_db


def _day(value: datetime.date) -> str:
    return f"{value.day} {value:%b %Y}"


def test_a_physician_sets_a_two_weekly_interval_for_persistent_neurological_symptoms(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    patient = clinic.on_time(given_name="Oliver", family_name="Sacks")
    actions.symptom_check_record(
        patient=patient, checked_on=timezone.localdate(), neurological=True, depression=False, recorded_by=nurse
    )
    last = timezone.localdate(max(i.given_at for i in patient.injections.all()))

    log_in(page, live_server, "phil")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    expect(page.get_by_test_id("alerts")).to_contain_text("consider injections every 2 weeks or weekly")
    page.get_by_role("link", name="Set interval").click()
    page.get_by_label("Every").fill("14")
    page.get_by_label("days").check()
    page.get_by_label("Reason").fill("Paresthesia persists: two-weekly injections")
    page.get_by_role("button", name="Record the decision").click()

    expect(page.get_by_role("status")).to_contain_text("Interval set.")
    expect(page.get_by_test_id("interval")).to_have_text("every 14 days")
    expect(page.get_by_test_id("schedule")).to_contain_text(_day(last + datetime.timedelta(days=14)))
    assert CareStatus.objects.get(patient=patient).next_injection_due == last + datetime.timedelta(days=14)


def test_a_physician_switches_to_oral_with_a_3_month_recheck_then_resumes_injections(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    patient = clinic.candidate(given_name="Dorothy", family_name="Hodgkin")
    recheck = timezone.localdate() + datetime.timedelta(days=91)

    log_in(page, live_server, "phil")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.get_by_role("link", name="Approve oral switch").click()
    page.get_by_label("Daily oral dose (mcg)").fill("2000")
    page.get_by_label("First recheck on (optional)").fill(recheck.isoformat())
    page.get_by_label("Reason").fill("Diet corrected; recheck in 3 months")
    page.get_by_role("button", name="Approve the switch").click()

    expect(page.get_by_role("status")).to_contain_text("Switch to oral therapy approved")
    expect(page.get_by_test_id("phase")).to_have_text("Oral therapy")
    expect(page.get_by_test_id("verdict")).to_have_count(0)  # no "candidate" badge once switched
    expect(page.get_by_test_id("oral")).to_contain_text("2000 mcg daily")
    expect(page.get_by_test_id("next-recheck")).to_contain_text(_day(recheck))
    expect(page.get_by_test_id("next-recheck")).to_contain_text("set by physician")

    page.get_by_role("link", name="Resume injections").click()
    page.get_by_label("Reason").fill("Numbness returned on tablets")
    page.get_by_role("button", name="Resume injections").click()
    expect(page.get_by_role("status")).to_contain_text("Injections resumed")
    expect(page.get_by_test_id("phase")).to_have_text("Maintenance")
    expect(page.get_by_test_id("oral")).to_have_count(0)
    kinds = list(Decision.objects.filter(patient=patient).order_by("made_at").values_list("kind", flat=True))
    assert kinds == ["oral_switch_approved", "injections_resumed"]
