"""Outreach in Chromium (issue 15): a nurse works the outreach list, records a wrong number and a
booking at the suggested day, sees the day view, and prints the day's letters: the patient has no
email address, so the booking's notice is a letter, and the PDF names the appointment."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pypdf
from playwright.sync_api import Page, expect

from outreach.models import Appointment, ContactAttempt
from reminders.calendar import format_visit
from tests.browser.conftest import BrowserErrors, browser_db
from tests.browser.test_clinic_in_a_browser import log_in
from tests.ui.builders import Clinic

pytestmark = browser_db


def test_a_nurse_works_the_outreach_list_and_books_a_patient(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician, screenshots: Path, tmp_path: Path
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    wrong = clinic.overdue(20, given_name="Ada", family_name="Lovelace", phone="020 7946 0101")
    booked = clinic.overdue(90, given_name="Zofia", family_name="Wiśniewska", phone="020 7946 0202")
    log_in(page, live_server, "nina")
    page.get_by_role("link", name="Outreach", exact=True).click()

    to_call = page.get_by_test_id("outreach-to-call")
    rows = to_call.locator("tbody tr")
    expect(rows).to_have_count(2)
    # Most at risk first: 90 days overdue (lost to follow-up) before 20.
    expect(rows.nth(0)).to_contain_text("Zofia Wiśniewska")
    expect(rows.nth(0)).to_contain_text("Lost to follow-up")
    expect(rows.nth(0).get_by_test_id("phone")).to_have_text("020 7946 0202")
    page.screenshot(path=str(screenshots / "outreach.png"), full_page=True)

    # A wrong number: the outcome, one click.
    ada = to_call.locator(f'tr[data-patient="{wrong.mrn}"]')
    ada.get_by_label("Outcome of the call to Ada Lovelace").select_option("wrong_number")
    ada.get_by_role("button", name="Record").click()
    expect(page.get_by_role("status")).to_contain_text("Ada Lovelace: wrong number recorded.")
    expect(to_call.locator(f'tr[data-patient="{wrong.mrn}"]').get_by_test_id("last-contact")).to_contain_text(
        "Wrong number"
    )

    # Reached and booked: on to the booking, the least busy day of the window already filled in.
    zofia = to_call.locator(f'tr[data-patient="{booked.mrn}"]')
    zofia.get_by_label("Outcome of the call to Zofia Wiśniewska").select_option("reached_booked")
    zofia.get_by_role("button", name="Record").click()
    expect(page.get_by_role("heading", name="Book an appointment")).to_be_visible()
    expect(page.get_by_test_id("suggestion")).to_contain_text("Suggested:")
    day = page.get_by_label("Day").input_value()
    expect(page.get_by_label("Time")).to_have_value("09:00")
    page.get_by_role("button", name="Book").click()

    # The day view of the booked day: she is booked, at 09:00.
    expect(page.get_by_role("status")).to_contain_text("Zofia Wiśniewska: injection booked on")
    clinic_day = page.get_by_test_id("clinic-day")
    row = clinic_day.locator(f'tr[data-patient="{booked.mrn}"]')
    expect(row).to_contain_text("09:00")
    expect(row).to_contain_text("Booked")
    expect(clinic_day.locator('[data-count="booked"]')).to_have_text("1")
    page.screenshot(path=str(screenshots / "appointments.png"), full_page=True)

    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.status, str(appointment.starts_at.astimezone().date())) == (
        booked,
        "booked",
        day,
    )
    assert list(ContactAttempt.objects.order_by("at").values_list("patient__mrn", "outcome")) == [
        (wrong.mrn, "wrong_number"),
        (booked.mrn, "reached_booked"),
    ]

    # Back on the list, the booked patient is gone; Ada waits for another try.
    page.get_by_role("link", name="Outreach", exact=True).click()
    expect(page.get_by_test_id("outreach-to-call").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("outreach-to-call")).to_contain_text("Ada Lovelace")

    # The outreach report: this month's two calls, one reached and booked, plotted by the static script.
    page.get_by_role("link", name="Outreach report").click()
    expect(page.locator("#outreach-plot")).to_have_attribute("data-ready", "1")
    month = page.get_by_test_id("outreach-report").locator("tbody tr").first
    expect(month.locator('[data-count="calls"]')).to_have_text("2")
    expect(month.locator('[data-count="booked"]')).to_have_text("1")
    page.screenshot(path=str(screenshots / "outreach-report.png"), full_page=True)

    # Zofia has no email address: the booking's notice waits as a letter; the nurse prints the day's
    # letters, and the PDF names her appointment in the clinic's time zone.
    assert not booked.email
    page.get_by_role("link", name="Reminders").click()
    page.get_by_test_id("letters-link").click()
    waiting = page.locator("#letters-waiting tbody tr")
    expect(waiting.filter(has_text="Zofia Wiśniewska")).to_have_count(1)
    with page.expect_download() as download_info:
        page.get_by_test_id("print-letters").click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    pages = pypdf.PdfReader(io.BytesIO(saved.read_bytes())).pages
    text = " ".join(" ".join(p.extract_text().split()) for p in pages)
    when = format_visit(appointment.starts_at, booked.clinic.zone)
    assert "Zofia Wiśniewska" in text
    assert f"Your injection appointment is booked for {when}." in text
