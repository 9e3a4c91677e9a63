"""The clinic as nurses and physicians use it, in Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from patients.models import Decision
from tests.browser.conftest import BrowserErrors, browser_db
from tests.ui.builders import Clinic

pytestmark = browser_db


def log_in(page: Page, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()


def test_a_nurse_finds_a_patient_logs_an_injection_and_the_worklist_changes(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    patient = clinic.overdue(3, given_name="Grace", family_name="Hopper")
    clinic.overdue(5, given_name="Edsger", family_name="Dijkstra")

    log_in(page, live_server, "nina")
    expect(page.get_by_role("heading", name="Today's worklist")).to_be_visible()
    due = page.get_by_test_id("injections-due")
    expect(due.locator(f'tr[data-patient="{patient.mrn}"]')).to_contain_text("3 days overdue")
    expect(page.get_by_test_id("injections-count")).to_have_text("2")

    page.get_by_role("link", name="Patients").click()
    page.get_by_label("Find a patient by name or medical record number (MRN)").fill("hopp")
    results = page.get_by_test_id("search-results")
    expect(results.locator("tbody tr")).to_have_count(1)  # htmx replaced the list as she typed
    expect(results).to_contain_text("Grace Hopper")
    results.get_by_role("link", name="Log injection").click()

    expect(page.get_by_label("Drug")).to_have_value("cyanocobalamin")
    expect(page.get_by_label("Dose (mcg)")).to_have_value("1000")
    page.get_by_label("Lot number").fill("CY-2611-B")
    page.get_by_label("Lot expiry").fill("2030-06-30")
    page.get_by_role("button", name="Record injection").click()

    expect(page.get_by_role("status")).to_contain_text("Injection recorded for Grace Hopper")
    assert patient.injections.count() == 2
    page.get_by_role("link", name="Today's worklist").click()
    expect(page.get_by_test_id("injections-count")).to_have_text("1")
    expect(page.get_by_test_id("injections-due").locator(f'tr[data-patient="{patient.mrn}"]')).to_have_count(0)


def test_a_physician_reviews_the_dashboard_and_approves_an_oral_switch(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician, screenshots: Path
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    clinic.mix()
    candidate = clinic.candidate(given_name="Rosalind", family_name="Franklin")
    clinic.lab(candidate, candidate.labs.first().collected_on.replace(day=1), "b12", "300", "pg/mL")
    clinic.lab(candidate, candidate.labs.last().collected_on, "b12", "520", "pg/mL")

    log_in(page, live_server, "phil")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    oral = page.get_by_test_id("oral-candidates")
    expect(oral.locator(f'tr[data-patient="{candidate.mrn}"]')).to_be_visible()
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    oral.get_by_role("link", name="Rosalind Franklin").click()
    expect(page.get_by_test_id("verdict")).to_have_text("Oral-switch candidate")
    page.wait_for_function("() => window.Chart && Chart.getChart('b12-trend') !== undefined")
    points = page.evaluate("() => Chart.getChart('b12-trend').data.datasets.map(d => d.data.length)")
    assert points[2] == candidate.labs.filter(analyte="b12").count()
    assert points[3] == candidate.injections.count()
    assert page.evaluate("() => document.getElementById('b12-trend').width") > 0
    page.get_by_text("Audit history of this record").click()  # loaded on opening (htmx)
    expect(page.get_by_test_id("history")).to_contain_text("Injection")
    page.screenshot(path=str(screenshots / "chart.png"), full_page=True)

    page.get_by_role("link", name="Approve oral switch").click()
    page.get_by_label("Reason").fill("Vegan diet corrected, B12 and MMA normal")
    page.get_by_role("button", name="Approve the switch").click()
    expect(page.get_by_role("status")).to_contain_text("Switch to oral therapy approved")
    expect(page.get_by_test_id("phase")).to_have_text("Oral therapy")
    decision = Decision.objects.get(patient=candidate)
    assert (decision.kind, decision.made_by.username) == ("oral_switch_approved", "phil")


def test_a_nurse_is_refused_a_decision(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    candidate = clinic.candidate()

    log_in(page, live_server, "nina")
    page.goto(f"{live_server.url}/patients/{candidate.pk}/")
    expect(page.get_by_text("Decisions are made by a physician.")).to_be_visible()
    expect(page.get_by_role("link", name="Approve oral switch")).to_have_count(0)

    response = page.goto(f"{live_server.url}/patients/{candidate.pk}/decisions/approve-oral/")
    assert response is not None and response.status == 403
    expect(page.get_by_test_id("forbidden")).to_contain_text("Not allowed")
    browser_errors.expect(r"status of 403")  # Chromium logs the refused page load itself
    candidate.regimen.refresh_from_db()
    assert candidate.regimen.oral_since is None and not Decision.objects.exists()


def test_a_nurse_enters_a_lab_in_another_unit_and_sees_it_converted(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician
) -> None:
    patient = Clinic(nurse=nurse, physician=physician).on_time()

    log_in(page, live_server, "nina")
    page.goto(f"{live_server.url}/patients/{patient.pk}/labs/new/")
    unit = page.get_by_label("Unit")
    expect(unit.locator("option")).to_have_text(["pg/mL", "ng/L", "pmol/L"])
    page.get_by_label("Analyte").select_option("mma")
    expect(unit.locator("option")).to_have_text(["nmol/L", "umol/L"])  # only the analyte's units
    page.get_by_label("Analyte").select_option("b12")
    page.get_by_label("Value").fill("453")
    unit.select_option("pmol/L")
    expect(page.locator("#canonical-preview")).to_have_text("= 613.99 pg/mL (canonical unit)")
    page.get_by_role("button", name="Save result").click()

    expect(page.get_by_role("status")).to_contain_text("Vitamin B12 453 pmol/L = 613.9875 pg/mL")
    expect(page.get_by_test_id("timeline")).to_contain_text("453 pmol/L = 614 pg/mL")
