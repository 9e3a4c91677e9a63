"""A record staff can trust, in Chromium: wrong entries corrected or marked entered in error with the
chart and the worklist following; Back and Save again asks before recording twice; implausible
values refused or confirmed."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from patients.models import Injection, LabResult
from tests.browser.conftest import BrowserErrors, browser_db
from tests.browser.test_clinic_in_a_browser import log_in
from tests.ui.builders import Clinic, days_ago

pytestmark = browser_db


def test_a_wrong_injection_is_corrected_and_a_lab_voided_with_the_chart_and_the_worklist_following(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician, screenshots: Path
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    grace = clinic.overdue(3, given_name="Grace", family_name="Hopper")  # really given 2 days ago
    injection = grace.injections.get()
    ada = clinic.recheck_due(given_name="Ada", family_name="Lovelace")
    # The rest of her recheck's panel is in, and a B12 that was really Edsger's tube, entered on her chart.
    for analyte, value, unit in (("hemoglobin", "135", "g/L"), ("mcv", "90", "fL"), ("ferritin", "80", "ug/L")):
        clinic.lab(ada, days_ago(0), analyte, value, unit)
    clinic.lab(ada, days_ago(0), "transferrin_saturation", "30", "%")
    clinic.lab(ada, days_ago(0), "b12", "420", "pg/mL")
    lab = ada.labs.get(analyte="b12")

    log_in(page, live_server, "nina")
    injections_due = page.get_by_test_id("injections-due")
    rechecks_due = page.get_by_test_id("rechecks-due")
    expect(injections_due.locator(f'tr[data-patient="{grace.mrn}"]')).to_contain_text("3 days overdue")
    expect(rechecks_due.locator(f'tr[data-patient="{ada.mrn}"]')).to_have_count(0)

    # The injection: its date was wrong.
    page.goto(f"{live_server.url}/patients/{grace.pk}/")
    entry = page.locator(f'[data-entry="injection-{injection.pk}"]')
    entry.get_by_role("link", name="Correct").click()
    expect(page.get_by_test_id("entry-summary")).to_contain_text("Cyanocobalamin 1000 mcg")
    given = timezone.localtime(injection.given_at) + datetime.timedelta(days=8)
    page.get_by_label("Given at").fill(given.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Save the correction").click()
    expect(page.locator("#id_reason").locator("..")).to_contain_text("This field is required")
    expect(page.get_by_label("Given at")).to_have_value(given.strftime("%Y-%m-%dT%H:%M"))  # kept
    page.get_by_label("Reason for the correction").fill("Dated from the referral letter, given on Tuesday")
    page.screenshot(path=str(screenshots / "correct-injection.png"), full_page=True)
    page.get_by_role("button", name="Save the correction").click()

    expect(page.get_by_role("status")).to_contain_text("corrected")
    corrected = page.locator(f'[data-entry="injection-{injection.pk}"]')
    expect(corrected.get_by_test_id("correction")).to_contain_text("Corrected by nina")
    expect(corrected.get_by_test_id("correction")).to_contain_text("Dated from the referral letter")
    expect(corrected.get_by_test_id("correction")).to_contain_text(
        f"given at {timezone.localtime(injection.given_at):%d %b %Y %H:%M}"
    )
    page.get_by_text("Audit history of this record").click()
    expect(page.get_by_test_id("history")).to_contain_text("Dated from the referral letter")
    page.screenshot(path=str(screenshots / "chart-corrected.png"), full_page=True)

    # The lab: another patient's tube.
    page.goto(f"{live_server.url}/patients/{ada.pk}/")
    expect(page.get_by_text("Latest B12").locator("xpath=following-sibling::dd[1]")).to_contain_text("420")
    page.locator(f'[data-entry="lab-{lab.pk}"]').get_by_role("link", name="Entered in error").click()
    page.get_by_label("Why was it entered in error?").fill("Edsger Dijkstra's tube, entered on the wrong chart")
    page.get_by_role("button", name="Mark as entered in error").click()
    expect(page.get_by_role("status")).to_contain_text("Marked as entered in error")
    voided = page.locator(f'[data-entry="lab-{lab.pk}"]')
    expect(voided.get_by_test_id("voided")).to_contain_text("marked by nina")
    expect(voided.get_by_test_id("voided")).to_contain_text("wrong chart")
    expect(voided.locator("del")).to_contain_text("420")
    expect(voided.get_by_role("link", name="Correct")).to_have_count(0)
    expect(page.get_by_text("Latest B12").locator("xpath=following-sibling::dd[1]")).not_to_contain_text("420")

    page.get_by_role("link", name="Today's worklist").click()
    expect(injections_due.locator(f'tr[data-patient="{grace.mrn}"]')).to_have_count(0)
    expect(rechecks_due.locator(f'tr[data-patient="{ada.mrn}"]')).to_be_visible()
    injection.refresh_from_db()
    lab.refresh_from_db()
    assert timezone.localtime(injection.given_at).date() == given.date()
    assert lab.voided_by == nurse and LabResult.history.filter(id=lab.pk).count() == 2


def test_back_and_save_again_asks_before_recording_twice(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician, screenshots: Path
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    patient = clinic.overdue(3, given_name="Grace", family_name="Hopper")

    log_in(page, live_server, "nina")
    page.goto(f"{live_server.url}/patients/{patient.pk}/injections/new/")
    page.get_by_label("Lot number").fill("CY-2611-B")
    page.get_by_label("Lot expiry").fill("2030-06-30")
    page.get_by_role("button", name="Record injection").click()
    expect(page.get_by_role("status")).to_contain_text("Injection recorded for Grace Hopper")
    assert patient.injections.count() == 2

    page.go_back()
    expect(page.get_by_role("button", name="Record injection")).to_be_visible()
    page.get_by_role("button", name="Record injection").click()
    expect(page.get_by_test_id("needs-confirmation")).to_contain_text("Nothing saved yet")
    duplicate = page.get_by_test_id("warning-duplicate")
    expect(duplicate).to_contain_text("Already recorded: an injection at")
    expect(duplicate).to_contain_text("by nina. Record another?")
    assert patient.injections.count() == 2
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshots / "injection-duplicate-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Record injection").click()  # without ticking: asked again
    expect(page.get_by_test_id("warning-duplicate")).to_be_visible()
    assert patient.injections.count() == 2
    for box in page.locator('input[name="confirm"]').all():
        box.check()
    page.get_by_role("button", name="Record injection").click()
    expect(page.get_by_role("status")).to_contain_text("Injection recorded")
    assert patient.injections.count() == 3
    codes = {w["code"] for w in Injection.objects.filter(patient=patient).latest("created_at").confirmed_warnings}
    assert "duplicate" in codes

    # The same for a lab result: Back, the same result typed again.
    for attempt in range(2):
        page.goto(f"{live_server.url}/patients/{patient.pk}/labs/new/")
        page.get_by_label("Value").fill("321")
        page.get_by_role("button", name="Save result").click()
        if attempt == 0:
            expect(page.get_by_role("status")).to_contain_text("Lab result saved")
            page.go_back()
    expect(page.get_by_test_id("warning-duplicate")).to_contain_text("Already recorded at")
    expect(page.get_by_label("Value")).to_have_value("321")
    assert patient.labs.count() == 1


def test_an_implausible_value_is_refused_or_confirmed(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician, screenshots: Path
) -> None:
    patient = Clinic(nurse=nurse, physician=physician).on_time(given_name="Grace", family_name="Hopper")

    log_in(page, live_server, "nina")
    page.goto(f"{live_server.url}/patients/{patient.pk}/labs/new/")
    value = page.get_by_label("Value")
    for typed, message in (
        ("1e309", "is not a number: use the digits 0-9"),
        ("999999", "outside what can be measured"),
    ):
        value.fill(typed)
        page.get_by_role("button", name="Save result").click()
        expect(page.locator("#id_value").locator("..")).to_contain_text(message)
        expect(page.get_by_label("Value")).to_have_value(typed)
    assert not patient.labs.exists()

    page.get_by_label("Value").fill("2500")
    page.get_by_role("button", name="Save result").click()
    warning = page.get_by_test_id("warning-unusual_value")
    expect(warning).to_contain_text("2500 pg/mL is outside the usual range of Vitamin B12 (50-2000 pg/mL)")
    page.screenshot(path=str(screenshots / "lab-confirm.png"), full_page=True)
    assert not patient.labs.exists()
    warning.get_by_label("Yes, this is right: record it").check()
    page.get_by_role("button", name="Save result").click()
    expect(page.get_by_role("status")).to_contain_text("Lab result saved")
    lab = patient.labs.get()
    expect(page.locator(f'[data-entry="lab-{lab.pk}"]').get_by_test_id("confirmed-warning")).to_contain_text(
        "Confirmed by nina: 2500 pg/mL is outside the usual range"
    )
