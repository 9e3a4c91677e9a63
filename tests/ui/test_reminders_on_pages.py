"""The reminders show where staff look: a failed-reminder banner on the dashboard, and each
patient's reminder history on the chart."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from reminders.models import Reminder

pytestmark = pytest.mark.django_db


def _reminder(patient: Patient, status: str, kind: str = "injection_due_soon") -> Reminder:
    now = timezone.now()
    return Reminder.objects.create(
        patient=patient,
        kind=kind,
        due_date=datetime.date(2026, 3, 5),
        status=status,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        last_error="550 mailbox unavailable" if status == "failed" else "",
    )


def test_the_dashboard_warns_of_failed_reminders(physician_client: Client, patient: Patient) -> None:
    page = physician_client.get(reverse("dashboard")).content.decode()
    assert 'id="reminders-failed"' not in page
    _reminder(patient, "failed")
    page = physician_client.get(reverse("dashboard")).content.decode()
    assert 'id="reminders-failed"' in page and "1 patient reminder could not be sent" in page


def test_the_chart_shows_the_patients_reminder_history(nurse_client: Client, patient: Patient) -> None:
    _reminder(patient, "sent")
    page = nurse_client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert 'id="reminder-history"' in page and "Sent" in page
