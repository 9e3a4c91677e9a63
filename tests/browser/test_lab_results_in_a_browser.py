"""Lab results in, in Chromium: a result the laboratory sent for a birth date the clinic does not
have waits in the queue; the nurse matches it to the patient, and the chart and worklist follow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from labs_in import hl7in
from labs_in.actions import message_receive
from tests.browser.conftest import BrowserErrors, browser_db
from tests.browser.test_clinic_in_a_browser import log_in
from tests.ui.builders import Clinic, days_ago

pytestmark = browser_db


def test_a_queued_result_is_matched_to_a_patient_and_the_chart_and_worklist_follow(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician, screenshots: Path
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    ada = clinic.recheck_due(given_name="Ada", family_name="Lovelace")
    for analyte, value, unit in (("hemoglobin", "135", "g/L"), ("mcv", "90", "fL"), ("ferritin", "80", "ug/L")):
        clinic.lab(ada, days_ago(0), analyte, value, unit)
    clinic.lab(ada, days_ago(0), "transferrin_saturation", "30", "%")
    # The laboratory has her birth date a day off: not matched, queued.
    wrong_birth = ada.birth_date.replace(day=1 if ada.birth_date.day != 1 else 2).strftime("%Y%m%d")
    receipt = message_receive(
        text=hl7in.compose_oru(
            control_id="BROWSER-1",
            mrn=ada.mrn,
            birth_date=wrong_birth,
            family_name="LOVELACE",
            given_name="ADA",
            observed_at=timezone.localdate().strftime("%Y%m%d0800"),
            observations=[("2132-9", "420", "pg/mL")],
        )
    )
    assert receipt.code == "AE"

    log_in(page, live_server, "nina")
    rechecks_due = page.get_by_test_id("rechecks-due")
    expect(rechecks_due.locator(f'tr[data-patient="{ada.mrn}"]')).to_have_count(1)
    expect(page.get_by_test_id("extension-count")).to_contain_text("1 unmatched lab result")

    page.get_by_role("link", name="Lab results").click()
    row = page.get_by_test_id("queued-result")
    expect(row).to_contain_text("LOVELACE, ADA")
    expect(row).to_contain_text("Unknown patient")
    row.get_by_role("link", name="Review").click()
    expect(page.get_by_test_id("received-result")).to_contain_text("420 pg/mL")
    page.get_by_label("Record number of the patient").fill(ada.mrn)
    page.screenshot(path=str(screenshots / "lab-result-queued.png"), full_page=True)
    page.get_by_role("button", name="Record for this patient").click()
    expect(page.get_by_test_id("match-form")).to_contain_text("is not quite the patient of the message: born")
    browser_errors.expect("status of 400")  # the form answered with what to check
    page.get_by_label("This is the patient of the message: record it for them").check()
    page.get_by_role("button", name="Record for this patient").click()

    expect(page.get_by_role("status")).to_contain_text("Recorded for Ada Lovelace")
    expect(page.get_by_test_id("lab-queue-empty")).to_be_visible()
    page.goto(f"{live_server.url}/patients/{ada.pk}/")
    expect(page.get_by_text("Latest B12").locator("xpath=following-sibling::dd[1]")).to_contain_text("420")
    page.goto(f"{live_server.url}/worklist/")
    expect(page.get_by_test_id("rechecks-due").locator(f'tr[data-patient="{ada.mrn}"]')).to_have_count(0)
    expect(page.get_by_test_id("extension-count")).to_have_count(0)
