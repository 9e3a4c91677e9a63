"""What a patient receives, read at the SMTP server, and the one-click opt-out it carries."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import signing
from django.test import Client

from patients.models import Patient
from reminders import beat, optout, outbox
from reminders.models import Reminder, ReminderSettings, Status
from tests.reminders.conftest import SmtpSink

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 20, 9, 30, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture
def clinic(settings) -> None:
    settings.CLINIC_EMAIL_NAME = "Riverside Clinic"
    settings.CLINIC_PHONE = "020 7946 0000"
    settings.CLINIC_EMAIL = "bookings@riverside.example"
    settings.CLINIC_ADDRESS = "1 River Lane, London"
    settings.SITE_URL = "https://clinic.example.org"


def _parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def unsubscribe_link(message) -> str:
    text, _ = _parts(message)
    (link,) = re.findall(r"https?://\S+/reminders/unsubscribe/\S+/", text)
    return link


@pytest.mark.parametrize(
    ("offset", "recheck", "subject"),
    [
        (4, False, "Riverside Clinic: your injection appointment is due on Tuesday 24 March 2026"),
        (-3, False, "Riverside Clinic: your injection appointment was due on Tuesday 17 March 2026"),
        (4, True, "Riverside Clinic: your blood test is due on Tuesday 24 March 2026"),
    ],
)
def test_it_says_which_visit_when_and_how_to_reach_the_clinic(
    clinic, smtp: SmtpSink, due_patient: Callable[..., Patient], settings, offset: int, recheck: bool, subject: str
) -> None:
    config = ReminderSettings.load()
    config.days_before = 4
    config.save()
    due = NOW.date() + datetime.timedelta(days=offset)
    due_patient(None if recheck else due, recheck=due if recheck else None, given_name="Ada")

    beat.reminders_send_now(now=NOW)

    (message,) = smtp.received()
    text, html = _parts(message)
    assert message["Subject"] == subject
    assert message["From"] == "Riverside Clinic <clinic@localhost>"
    for part in (text, html):
        assert "Ada" in part
        assert subject.split(" on ")[1] in part
        assert "020 7946 0000" in part and "bookings@riverside.example" in part and "1 River Lane, London" in part
    assert message["Message-ID"] == Reminder.objects.get().message_id
    link = unsubscribe_link(message)
    assert link.startswith("https://clinic.example.org/reminders/unsubscribe/")
    assert message["List-Unsubscribe"].strip() == f"<{link}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in html


def test_its_opt_out_link_asks_then_opts_the_patient_out_with_an_audit_trail(
    smtp: SmtpSink, due_patient: Callable[..., Patient], client: Client
) -> None:
    patient = due_patient(NOW.date() + datetime.timedelta(days=1), recheck=NOW.date() + datetime.timedelta(days=2))
    ReminderSettings.load()
    Reminder.objects.all().delete()
    outbox.reminders_scan(now=NOW, enqueue=False)
    first = Reminder.objects.get(kind="injection_due_soon")
    outbox.reminder_send(reminder_id=first.pk, now=NOW)
    path = unsubscribe_link(smtp.received()[0]).split("127.0.0.1:8000", 1)[1]

    page = client.get(path)  # a link scanner's GET changes nothing
    assert page.status_code == 200 and b"Stop email reminders" in page.content
    patient.refresh_from_db()
    assert patient.email_opt_out_at is None

    done = client.post(path)
    assert done.status_code == 200 and b"You will not receive email reminders" in done.content
    patient.refresh_from_db()
    assert patient.email_opt_out_at is not None and not patient.email_reminders_consent
    latest = patient.history.latest()
    assert latest.history_change_reason == outbox.OPT_OUT_REASON
    # The recheck reminder still waiting is skipped, not sent.
    assert Reminder.objects.get(kind="recheck_due_soon").status == Status.SKIPPED
    beat.reminders_send_now(now=NOW)
    assert len(smtp.received()) == 1


def test_it_accepts_the_one_click_post_of_rfc_8058(due_patient: Callable[..., Patient], client: Client) -> None:
    patient = due_patient(NOW.date())
    path = optout.unsubscribe_url(patient).split("127.0.0.1:8000", 1)[1]
    client_with_csrf = Client(enforce_csrf_checks=True)
    response = client_with_csrf.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    patient.refresh_from_db()
    assert patient.email_opt_out_at is not None
    assert client.post(path).status_code == 200  # twice is fine


def test_it_refuses_a_forged_opt_out_link(due_patient: Callable[..., Patient], client: Client) -> None:
    patient = due_patient(NOW.date())
    path = optout.unsubscribe_url(patient).split("127.0.0.1:8000", 1)[1]
    forged = path.replace(path.rstrip("/").rsplit(":", 1)[1], "AAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert client.post(forged).status_code == 404
    assert client.get("/reminders/unsubscribe/123/").status_code == 404
    patient.refresh_from_db()
    assert patient.email_opt_out_at is None


@pytest.mark.parametrize(("days", "valid"), [(364, True), (366, False)])
def test_an_opt_out_link_expires_after_a_year_and_names_no_database_id(
    due_patient: Callable[..., Patient], days: int, valid: bool
) -> None:
    patient = due_patient(NOW.date())
    with time_machine.travel(NOW, tick=False):
        token = optout.unsubscribe_token(patient)
    assert signing.loads(token, salt=optout.UNSUBSCRIBE_SALT) == patient.reminder_key.hex  # not the id
    with time_machine.travel(NOW + datetime.timedelta(days=days), tick=False):
        assert (optout.patient_for_unsubscribe_token(token) == patient) is valid
