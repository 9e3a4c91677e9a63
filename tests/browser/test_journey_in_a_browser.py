"""The patient's journey in Chromium: registration to the first loading dose, a lab panel in one
form, discharge and re-admission (issue 10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from care.models import CareStatus
from patients.models import LabNotDrawn, LabResult, Patient
from tests.browser.conftest import BrowserErrors, browser_db
from tests.browser.test_clinic_in_a_browser import log_in
from tests.ui.builders import Clinic

pytestmark = browser_db


def test_a_referral_is_registered_and_given_its_first_loading_dose(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician, screenshots: Path
) -> None:
    Clinic(nurse=nurse, physician=physician).patient(
        mrn="OLD-1", given_name="Mary", family_name="Somerville", birth_date=__import__("datetime").date(1960, 12, 26)
    )
    log_in(page, live_server, "nina")
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("main").get_by_role("link", name="Register a patient").click()
    page.get_by_label("Given name").fill("Mary")
    page.get_by_label("Family name").fill("Somerville")
    page.get_by_label("Birth date").fill("1960-12-26")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Medical record number (MRN)").fill("OLD-1")
    page.get_by_label("Email", exact=True).fill("mary@example.org")
    page.get_by_label("Agrees to email reminders").check()
    page.screenshot(path=str(screenshots / "registration.png"), full_page=True)
    page.get_by_role("button", name="Register").click()

    # Same name and birth date: a warning with a link to the chart, and a box to go on (focused).
    warning = page.get_by_test_id("duplicate-warning")
    expect(warning.get_by_role("link", name="Mary Somerville (OLD-1)")).to_be_visible()
    confirm = page.get_by_label("This is a different patient: register anyway")
    expect(confirm).to_be_focused()
    confirm.check()
    page.get_by_role("button", name="Register").click()

    # The record number is taken: the field says so and has the focus; what was typed is kept.
    mrn = page.get_by_label("Medical record number (MRN)")
    expect(mrn).to_be_focused()
    expect(page.get_by_text("already exists")).to_be_visible()
    expect(page.get_by_label("Given name")).to_have_value("Mary")
    expect(confirm).to_be_checked()
    mrn.fill("NEW-1")
    page.get_by_role("button", name="Register").click()

    expect(page.get_by_role("status")).to_contain_text("Mary Somerville (NEW-1) registered.")
    expect(page.get_by_test_id("phase")).to_have_text("Not started")
    page.get_by_role("link", name="Log injection").click()
    page.get_by_label("Lot number").fill("CY-2611-B")
    page.get_by_label("Lot expiry").fill("2030-06-30")
    page.get_by_role("button", name="Record injection").click()
    expect(page.get_by_role("status")).to_contain_text("Injection recorded for Mary Somerville")
    expect(page.get_by_test_id("phase")).to_have_text("Loading")
    patient = Patient.objects.get(mrn="NEW-1")
    assert CareStatus.objects.get(patient=patient).loading_doses_given == 1
    assert "OLD-1" in patient.history.earliest("history_date").history_change_reason


def test_a_five_test_panel_is_entered_in_one_form(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician
) -> None:
    patient = Clinic(nurse=nurse, physician=physician).recheck_due(given_name="Grace", family_name="Hopper")
    log_in(page, live_server, "nina")
    rechecks = page.get_by_test_id("rechecks-due")
    row = rechecks.locator(f'tr[data-patient="{patient.mrn}"]')
    expect(row).to_contain_text("Vitamin B12, Full blood count, Iron studies")
    row.get_by_role("link", name="Enter results").click()

    page.get_by_label("Vitamin B12 value").fill("300")
    page.get_by_label("Vitamin B12 unit").select_option("pmol/L")
    expect(page.get_by_test_id("panel-row-b12").locator("[data-canonical]")).to_have_text("= 407 pg/mL")
    page.get_by_label("Hemoglobin value").fill("13.1")
    page.get_by_label("Hemoglobin unit").select_option("g/dL")
    expect(page.get_by_test_id("panel-row-hemoglobin").locator("[data-canonical]")).to_have_text("= 131 g/L")
    page.get_by_label("Mean corpuscular volume (MCV) value").fill("90")
    page.get_by_label("Ferritin value").fill("abc")
    page.get_by_test_id("panel-row-transferrin_saturation").get_by_role("checkbox", name="Not drawn").check()
    page.get_by_role("button", name="Save the panel").click()

    # Refused as a whole: the row is named, has the focus, and everything typed is still there.
    ferritin = page.get_by_label("Ferritin value")
    expect(ferritin).to_be_focused()
    expect(page.get_by_test_id("panel-row-ferritin")).to_contain_text("not a number")
    expect(page.get_by_test_id("panel-row-transferrin_saturation")).to_contain_text("Say why it was not drawn.")
    expect(page.get_by_label("Vitamin B12 value")).to_have_value("300")
    assert LabResult.objects.filter(patient=patient).count() == 0

    ferritin.fill("40")
    page.get_by_label("Why was Transferrin saturation not drawn?").fill("Sample clotted")
    page.get_by_role("button", name="Save the panel").click()
    expect(page.get_by_role("status")).to_contain_text("4 lab results saved for Grace Hopper")
    expect(page.get_by_role("heading", name="Today's worklist")).to_be_visible()
    expect(page.get_by_test_id("rechecks-due").locator(f'tr[data-patient="{patient.mrn}"]')).to_have_count(0)
    assert LabResult.objects.filter(patient=patient).count() == 4
    assert LabNotDrawn.objects.get(patient=patient).reason == "Sample clotted"


def test_a_patient_is_discharged_and_re_admitted(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician
) -> None:
    patient = Clinic(nurse=nurse, physician=physician).overdue(4, given_name="Emmy", family_name="Noether")
    log_in(page, live_server, "nina")
    expect(page.get_by_role("heading", name="Today's worklist")).to_be_visible()
    page.keyboard.press("Tab")  # the skip link shows when it has the focus
    expect(page.get_by_role("link", name="Skip to content")).to_be_visible()
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    due = page.get_by_test_id("injections-due")
    due.get_by_role("link", name="Emmy Noether", exact=True).click()
    page.get_by_role("link", name="Discharge").click()
    page.get_by_label("Moved away").check()
    page.get_by_label("Note").fill("To Göttingen")
    page.get_by_role("button", name="Discharge").click()
    expect(page.get_by_role("status")).to_contain_text("Emmy Noether discharged (moved away)")
    expect(page.get_by_test_id("discharge")).to_contain_text("Moved away — To Göttingen")
    expect(page.get_by_role("link", name="Log injection")).to_have_count(0)

    page.get_by_role("link", name="Today's worklist").click()
    expect(page.get_by_test_id("injections-due").locator(f'tr[data-patient="{patient.mrn}"]')).to_have_count(0)
    page.get_by_label("Find a patient by name or MRN").fill("Noether")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_test_id("search-results")).to_contain_text("discharged")
    page.get_by_test_id("search-results").get_by_role("link", name="Emmy Noether").click()

    page.get_by_role("link", name="Re-admit").click()
    page.get_by_role("button", name="Re-admit").click()
    expect(page.get_by_label("Why is the patient re-admitted?")).to_be_focused()
    page.get_by_label("Why is the patient re-admitted?").fill("Moved back")
    page.get_by_role("button", name="Re-admit").click()
    expect(page.get_by_role("status")).to_contain_text("Emmy Noether re-admitted")
    page.get_by_role("link", name="Today's worklist").click()
    expect(page.get_by_test_id("injections-due").locator(f'tr[data-patient="{patient.mrn}"]')).to_contain_text(
        "4 days overdue"
    )
