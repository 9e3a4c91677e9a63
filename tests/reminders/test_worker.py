"""Real Celery workers against the real Redis and a real SMTP server: what the server received."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

import pytest
from django.utils import timezone

from patients.models import Patient
from reminders import outbox
from reminders.models import Reminder, ReminderEvent, Status
from reminders.tasks import send_reminder
from tests.reminders.conftest import SmtpSink, Workers, wait_for

# The workers are other processes: they see only committed data, so these tests commit.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("migrated_rows_each")]


def _settle(seconds: float = 1.0) -> None:
    """Give the workers time to (wrongly) send a second message before counting."""
    time.sleep(seconds)


def test_it_sends_one_email_when_the_scan_runs_twice_and_two_workers_race(
    celery_workers: Workers, smtp: SmtpSink, reminder_settings, due_patient: Callable[..., Patient]
) -> None:
    today = timezone.localdate()
    patient = due_patient(today + datetime.timedelta(days=2))

    first = outbox.reminders_scan(now=timezone.now())
    second = outbox.reminders_scan(now=timezone.now())
    reminder = Reminder.objects.get(patient=patient)
    # The same task delivered again, to both workers at once (a redelivery, a duplicate publish).
    for _ in range(4):
        send_reminder.delay(reminder.pk)

    wait_for(lambda: smtp.received())
    _settle(1.5)
    received = smtp.received()
    assert len(received) == 1, celery_workers.logs()
    assert received[0]["To"] == patient.email
    assert received[0]["Message-ID"] == reminder.message_id
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == (Status.SENT, 1)
    assert (first.created, second.created) == (1, 0)
    assert ReminderEvent.objects.filter(reminder=reminder, status=Status.SENDING).count() == 1


def test_it_keeps_the_reminder_pending_while_smtp_is_down_and_sends_it_once_when_back(
    celery_workers: Workers, smtp: SmtpSink, reminder_settings, due_patient: Callable[..., Patient]
) -> None:
    patient = due_patient(timezone.localdate() + datetime.timedelta(days=1))
    smtp.stop()

    outbox.reminders_scan(now=timezone.now())
    reminder = Reminder.objects.get(patient=patient)
    wait_for(lambda: Reminder.objects.filter(pk=reminder.pk, status=Status.PENDING, attempts=1).exists())
    reminder.refresh_from_db()
    assert "Connection refused" in reminder.last_error or "Errno" in reminder.last_error
    assert reminder.next_attempt_at > reminder.claimed_at  # backing off, not hammering
    # Before the backoff has passed, a scan does not queue it again.
    assert outbox.reminders_scan(now=timezone.now()).due_ids == []

    smtp.start()
    Reminder.objects.filter(pk=reminder.pk).update(next_attempt_at=timezone.now())  # the backoff has passed
    assert outbox.reminders_scan(now=timezone.now()).due_ids == [reminder.pk]
    wait_for(lambda: smtp.received())
    outbox.reminders_scan(now=timezone.now())
    _settle()
    assert smtp.message_ids() == [reminder.message_id], celery_workers.logs()
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts, reminder.last_error) == (Status.SENT, 2, "")


def test_it_cancels_a_queued_reminder_when_the_injection_is_recorded_first(
    celery_workers: Workers, smtp: SmtpSink, reminder_settings, due_patient: Callable[..., Patient], nurse
) -> None:
    from clinic import actions as patient_actions

    patient = due_patient(timezone.localdate())
    outbox.reminders_scan(now=timezone.now(), enqueue=False)
    reminder = Reminder.objects.get(patient=patient)
    patient_actions.injection_record(
        patient=patient,
        given_at=timezone.now() - datetime.timedelta(minutes=5),
        drug="cyanocobalamin",
        dose_mcg=1000,
        route="im",
        site="left_deltoid",
        lot_number="CY-1",
        lot_expiry=timezone.localdate() + datetime.timedelta(days=300),
        given_by=nurse,
    )
    send_reminder.delay(reminder.pk)  # the message was already in the queue
    _settle()
    assert smtp.received() == []
    reminder.refresh_from_db()
    assert reminder.status == Status.CANCELLED
