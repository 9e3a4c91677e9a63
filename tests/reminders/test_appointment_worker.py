"""Appointment notices through real Celery workers, the real Redis and a real SMTP server: queued after
the booking's commit, sent once per version however often the booking action and the scan run."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

import pytest
from django.db import transaction
from django.utils import timezone

from outreach.models import Appointment
from patients.models import Patient
from reminders import outbox
from reminders.appointments import appointment_notice_queue
from reminders.models import Reminder, Status
from tests.reminders.conftest import SmtpSink, Workers, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("migrated_rows_each")]


def test_the_workers_send_one_notice_per_version_queued_after_the_booking_commits(
    celery_workers: Workers, smtp: SmtpSink, reminder_settings, due_patient: Callable[..., Patient], nurse
) -> None:
    patient = due_patient(timezone.localdate() + datetime.timedelta(days=20))
    now = timezone.now()
    with transaction.atomic():  # the booking action's transaction
        appointment = Appointment.objects.create(
            patient=patient,
            kind="injection",
            starts_at=now + datetime.timedelta(days=7),
            booked_by=nurse,
            booked_at=now,
            updated_at=now,
        )
        appointment_notice_queue(appointment=appointment, change="booked", now=now)
        appointment_notice_queue(appointment=appointment, change="booked", now=now)  # a retried call
        assert smtp.received() == []  # nothing leaves before the commit
    wait_for(lambda: smtp.received())
    outbox.reminders_scan(now=timezone.now())  # the beat's scan finds it sent
    time.sleep(1.0)
    (message,) = smtp.received()
    notice = Reminder.objects.get(appointment=appointment)
    assert message["Message-ID"] == notice.message_id, celery_workers.logs()
    assert [p.get_content_type() for p in message.walk()].count("text/calendar") == 1
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (Status.SENT, 1)

    with transaction.atomic():  # moved: one update, the same UID, SEQUENCE 1
        appointment.starts_at += datetime.timedelta(days=1)
        appointment.sequence += 1
        appointment.save()
        appointment_notice_queue(appointment=appointment, change="rescheduled", now=timezone.now())
    wait_for(lambda: len(smtp.received()) == 2)
    time.sleep(1.0)
    assert len(smtp.received()) == 2
    update = smtp.received()[1]
    assert update["Message-ID"] == Reminder.objects.get(appointment=appointment, sequence=1).message_id
    ics = next(p for p in update.walk() if p.get_content_type() == "text/calendar").get_content()
    assert f"UID:{appointment.uid}@localhost" in ics and "SEQUENCE:1" in ics and "METHOD:REQUEST" in ics
