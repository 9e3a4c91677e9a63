"""The staff reminders page, the chart and dashboard partials, the admin settings, the command."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import Client

from patients.models import Patient
from reminders import beat, selectors
from reminders.models import Reminder, ReminderSettings, Status
from tests.conftest import EVERY_CLINIC
from tests.reminders.conftest import SmtpSink

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 24, 10, 0, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture
def some_reminders(smtp: SmtpSink, due_patient: Callable[..., Patient]) -> dict[str, Patient]:
    sent = due_patient(NOW.date(), family_name="Sentwell")
    failed = due_patient(NOW.date(), family_name="Failmore")
    skipped = due_patient(NOW.date(), family_name="Skipton", email_reminders_consent=False)
    smtp.refuse[failed.email] = "550 no such user"
    beat.reminders_send_now(now=NOW)
    return {"sent": sent, "failed": failed, "skipped": skipped}


def _login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_shows_staff_the_counts_and_each_row_history(some_reminders: dict[str, Patient], nurse: User) -> None:
    response = _login(nurse).get("/reminders/")
    assert response.status_code == 200
    assert response.context["counts"] == {
        "pending": 1,  # the letter to Skipton, who may not be emailed, waits to be printed
        "sending": 0,
        "sent": 1,
        "failed": 1,
        "cancelled": 0,
        "skipped": 1,
    }
    body = response.content.decode()
    for name in ("Sentwell", "Failmore", "Skipton"):
        assert name in body
    assert "550 no such user" in body and "no consent to email reminders" in body
    failed_only = _login(nurse).get("/reminders/?status=failed")
    assert [r.patient.family_name for r in failed_only.context["reminders"]] == ["Failmore"]


def test_it_lets_staff_send_a_failed_reminder_again(some_reminders: dict[str, Patient], physician: User) -> None:
    failed = Reminder.objects.get(status=Status.FAILED)
    response = _login(physician).post(f"/reminders/{failed.pk}/retry/")
    assert (response.status_code, response["Location"]) == (302, "/reminders/?status=failed")
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (Status.PENDING, 0)


def test_it_keeps_the_page_from_strangers_and_anonymous_users(stranger: User, client: Client) -> None:
    assert _login(stranger).get("/reminders/").status_code == 403
    assert client.get("/reminders/").status_code == 302


def test_it_renders_the_chart_history_and_the_dashboard_banner(some_reminders: dict[str, Patient]) -> None:
    history = render_to_string(
        "reminders/_patient_history.html",
        {"reminders": selectors.reminders_for_patient(some_reminders["failed"])},
    )
    assert "Injection due soon" in history and "Failed" in history and "550 no such user" in history
    banner = render_to_string(
        "reminders/_failed_banner.html",
        {"reminders_failed_count": selectors.reminders_failed_count(clinics=EVERY_CLINIC)},
    )
    assert "1 patient reminder could not be sent" in banner and "/reminders/?status=failed" in banner
    assert render_to_string("reminders/_failed_banner.html", {"reminders_failed_count": 0}).strip() == ""


def test_it_lets_a_clinic_admin_edit_the_reminder_settings(clinic_admin: User) -> None:
    ReminderSettings.load()
    client = _login(clinic_admin)
    url = "/admin/reminders/remindersettings/1/change/"
    assert client.get(url).status_code == 200
    data = {
        "enabled": "on",
        "days_before": 5,
        "days_after": 2,
        "window_start_hour": 9,
        "window_end_hour": 8,
        "digest_hour": 6,
    }
    assert b"must end after it starts" in client.post(url, data).content
    data["window_end_hour"] = 18
    assert client.post(url, data).status_code == 302
    config = ReminderSettings.load()
    assert (config.days_before, config.days_after, config.window_start_hour, config.window_end_hour) == (5, 2, 9, 18)
    assert config.digest_hour == 6


def test_the_command_runs_one_scan_and_sends_without_a_broker(
    smtp: SmtpSink, due_patient: Callable[..., Patient], capsys: pytest.CaptureFixture[str]
) -> None:
    due_patient(NOW.date() + datetime.timedelta(days=1))
    due_patient(NOW.date(), email_reminders_consent=False)
    with time_machine.travel(NOW, tick=False):
        call_command("send_reminders")
        call_command("send_reminders")
    output = capsys.readouterr().out
    assert "created 1, skipped 1" in output and "sent 1" in output
    assert "created 0, skipped 0" in output and "nothing to send" in output
    assert len(smtp.received()) == 1
