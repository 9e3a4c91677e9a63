"""The Content-Security-Policy breaks no page, and the idle warning works, in Chromium."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.browser.conftest import BrowserErrors, browser_db
from tests.browser.test_clinic_in_a_browser import log_in
from tests.ui.builders import Clinic

pytestmark = browser_db


def test_every_page_works_under_the_content_security_policy(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    patient = clinic.candidate()
    clinic.overdue(4)
    log_in(page, live_server, "phil")
    urls = [
        reverse("dashboard"),
        reverse("worklist"),
        reverse("patient_list"),
        reverse("patient_detail", args=[patient.pk]),
        reverse("injection_create", args=[patient.pk]),
        reverse("lab_create", args=[patient.pk]),
        reverse("decision_create", args=[patient.pk, "interval"]),
        reverse("reminders:list"),
        reverse("password_change"),
    ]
    for url in urls:
        response = page.goto(live_server.url + url)
        assert response is not None and response.status == 200, url
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe" not in policy, url
        assert "no-store" in response.headers["cache-control"], url
    # The chart's plot (Chart.js) and the live search (htmx) run under the policy.
    page.goto(live_server.url + reverse("patient_detail", args=[patient.pk]))
    page.wait_for_function("() => window.Chart && Chart.getChart('b12-trend') !== undefined")
    page.goto(live_server.url + reverse("patient_list"))
    page.get_by_label("Find a patient by name or medical record number (MRN)").fill(patient.mrn)
    expect(page.get_by_test_id("search-results").locator("tbody tr")).to_have_count(1)
    assert patient.mrn not in page.url  # searched by POST
    # browser_errors fails the test on any console error, a refused inline script or style included.


def test_the_page_warns_before_the_idle_logout_and_staying_keeps_the_session(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician, settings
) -> None:
    settings.SESSION_IDLE_MINUTES = 1  # the warning shows a minute before: at once
    log_in(page, live_server, "nina")
    warning = page.get_by_test_id("idle-warning")
    expect(warning).to_be_visible(timeout=5_000)
    page.get_by_role("button", name="Stay logged in").click()
    expect(warning).to_be_hidden()
    page.goto(live_server.url + reverse("worklist"))
    expect(page.get_by_role("heading", name="Today's worklist")).to_be_visible()
