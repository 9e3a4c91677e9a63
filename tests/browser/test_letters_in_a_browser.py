"""The day's letters, in Chromium: a patient without email has an appointment booked; the nurse opens
the letters page from the reminders page, prints the batch, and the PDF she downloads names the
patient and the appointment's date and time in the clinic's time zone."""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any

import pypdf
from django.utils import timezone
from playwright.sync_api import Page, expect

from outreach.models import Appointment
from reminders.appointments import appointment_notice_queue
from reminders.calendar import format_visit
from reminders.models import Channel, Reminder, Status
from tests.browser.conftest import BrowserErrors, browser_db
from tests.browser.test_clinic_in_a_browser import log_in
from tests.ui.builders import Clinic

pytestmark = browser_db


def book(patient, *, by, days_ahead: int, at: datetime.time) -> Appointment:
    """A booked injection appointment, as the booking action leaves it (built beside this), with its
    notice queued as that action does."""
    zone = patient.clinic.zone
    day = timezone.localdate(timezone.now(), zone) + datetime.timedelta(days=days_ahead)
    now = timezone.now()
    appointment = Appointment.objects.create(
        patient=patient,
        kind="injection",
        starts_at=datetime.datetime.combine(day, at, zone),
        booked_by=by,
        booked_at=now,
        updated_at=now,
    )
    appointment_notice_queue(appointment=appointment, change="booked", now=now)
    return appointment


def test_a_nurse_prints_the_days_letters_and_the_pdf_names_the_appointment(
    page: Page, live_server: Any, browser_errors: BrowserErrors, nurse, physician, screenshots: Path, tmp_path: Path
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    home = clinic.home
    home.address, home.phone = "1 River Lane\nŁódź", "020 7946 0000"
    home.save()
    zofia = clinic.patient(given_name="Zofia", family_name="Wiśniewska")  # no email address
    appointment = book(zofia, by=nurse, days_ahead=2, at=datetime.time(9, 30))
    when = format_visit(appointment.starts_at, home.zone)  # e.g. "Wednesday 2 December 2026 at 09:30"
    assert when.endswith(" at 09:30")
    emailed = clinic.patient(
        given_name="Ed", family_name="Mailer", email="ed@example.org", email_reminders_consent=True
    )
    book(emailed, by=nurse, days_ahead=3, at=datetime.time(10, 0))

    log_in(page, live_server, "nina")
    page.get_by_role("link", name="Reminders").click()
    page.get_by_test_id("letters-link").click()
    expect(page.get_by_role("heading", name="Letters to print")).to_be_visible()
    rows = page.locator("#letters-waiting tbody tr")
    expect(rows).to_have_count(1)  # Ed is emailed, not written to
    expect(rows.first).to_contain_text("Zofia Wiśniewska")
    expect(rows.first).to_contain_text("Appointment booked")
    page.screenshot(path=str(screenshots / "letters.png"), full_page=True)

    with page.expect_download() as download_info:
        page.get_by_test_id("print-letters").click()
    download = download_info.value
    assert download.suggested_filename.startswith("letters-") and download.suggested_filename.endswith(".pdf")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    reader = pypdf.PdfReader(io.BytesIO(saved.read_bytes()))
    (text,) = [" ".join(p.extract_text().split()) for p in reader.pages]
    assert "Zofia Wiśniewska" in text and "Łódź" in text
    assert f"Your injection appointment is booked for {when}." in text

    letter = Reminder.objects.get(patient=zofia, channel=Channel.LETTER)
    assert letter.status == Status.SENT and letter.events.filter(note="printed by nina").exists()
    page.reload()
    expect(page.locator("#no-letters")).to_be_visible()
    expect(page.locator("#letters-printed")).to_contain_text("Zofia Wiśniewska")
    with page.expect_download() as again:
        page.get_by_test_id("reprint-letters").click()
    assert again.value.suggested_filename == download.suggested_filename
