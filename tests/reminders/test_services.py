"""The outbox in one process: rules, claim, cancel, skip, retry; each send checked at the SMTP server."""

from __future__ import annotations

import datetime
import logging
import smtplib
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.db import OperationalError, transaction

from care.models import CareStatus
from clinic import actions as patient_actions
from patients.models import Patient
from reminders import beat, outbox, rules, selectors, sending
from reminders.models import Reminder, ReminderEvent, ReminderSettings, Status
from tests.conftest import EVERY_CLINIC
from tests.reminders.conftest import SmtpSink, set_due

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
# Tuesday 24 March 2026, 10:00 in London (inside the default 08:00-20:00 window).
NOW = datetime.datetime(2026, 3, 24, 10, 0, tzinfo=LONDON)
TODAY = NOW.date()


def day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


def kinds(patient: Patient) -> list[tuple[str, str]]:
    return sorted(Reminder.objects.filter(patient=patient).values_list("kind", "status"))


# The clinic's rules, at their boundaries -------------------------------------------------------------


@pytest.mark.parametrize(
    ("injection_offset", "recheck_offset", "expected"),
    [
        (4, None, []),  # 4 days ahead: not yet (N = 3)
        (3, None, [("injection_due_soon", 3)]),  # N days ahead: due soon
        (0, None, [("injection_due_soon", 0)]),  # the due day itself
        (-1, None, []),  # missed yesterday: not overdue yet (M = 3)
        (-3, None, [("injection_overdue", -3)]),  # M days late: overdue
        (-33, None, [("injection_overdue", -33)]),  # still within the lookback
        (-34, None, []),  # older misses are left to the worklist
        (None, 2, [("recheck_due_soon", 2)]),
        (None, -5, [("recheck_overdue", -5)]),
        (1, -3, [("injection_due_soon", 1), ("recheck_overdue", -3)]),
        (None, None, []),
    ],
)
def test_it_applies_the_rules_at_their_boundaries(
    injection_offset: int | None, recheck_offset: int | None, expected: list[tuple[str, int]]
) -> None:
    found = rules.obligations(
        next_injection_due=None if injection_offset is None else day(injection_offset),
        next_recheck_due=None if recheck_offset is None else day(recheck_offset),
        today=TODAY,
        days_before=3,
        days_after=3,
    )
    assert found == [(kind, day(offset)) for kind, offset in expected]


@pytest.mark.parametrize(
    ("error", "temporary"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),
        (TimeoutError("timed out"), True),
        (smtplib.SMTPServerDisconnected("gone"), True),
        (smtplib.SMTPResponseException(421, b"try later"), True),
        (smtplib.SMTPResponseException(554, b"rejected"), False),
        (smtplib.SMTPSenderRefused(451, b"later", "clinic@localhost"), True),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (450, b"mailbox busy")}), True),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no such user")}), False),
        (smtplib.SMTPDataError(552, b"too big"), False),
        (ValueError("bad address"), False),
    ],
)
def test_it_tells_temporary_errors_from_permanent_ones(error: Exception, temporary: bool) -> None:
    assert rules.is_temporary(error) is temporary


@pytest.mark.parametrize(("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (12, 60)])
def test_it_backs_off_exponentially_up_to_an_hour(attempts: int, minutes: int) -> None:
    assert rules.backoff(attempts) == datetime.timedelta(minutes=minutes)


# The scan --------------------------------------------------------------------------------------------


def test_it_creates_each_reminder_once_however_often_it_scans(due_patient: Callable[..., Patient]) -> None:
    patient = due_patient(day(2), recheck=day(-4))
    first = outbox.reminders_scan(now=NOW, enqueue=False)
    second = outbox.reminders_scan(now=NOW + datetime.timedelta(minutes=5), enqueue=False)
    assert kinds(patient) == [("injection_due_soon", Status.PENDING), ("recheck_overdue", Status.PENDING)]
    assert (first.created, second.created) == (2, 0)
    assert sorted(first.due_ids) == sorted(Reminder.objects.values_list("pk", flat=True))
    assert all(r.message_id.startswith("<reminder-") for r in Reminder.objects.all())
    assert ReminderEvent.objects.filter(note="created").count() == 2


def test_it_creates_and_queues_nothing_outside_the_send_window(due_patient: Callable[..., Patient]) -> None:
    due_patient(day(1))
    early = outbox.reminders_scan(now=NOW.replace(hour=7, minute=55), enqueue=False)
    late = outbox.reminders_scan(now=NOW.replace(hour=20, minute=0), enqueue=False)
    assert (early.in_window, late.in_window, Reminder.objects.count()) == (False, False, 0)
    assert outbox.reminders_scan(now=NOW.replace(hour=8, minute=0), enqueue=False).created == 1


def test_it_follows_the_clinic_settings(due_patient: Callable[..., Patient]) -> None:
    due_patient(day(5))
    config = ReminderSettings.load()
    config.days_before = 5
    config.save()
    assert outbox.reminders_scan(now=NOW, enqueue=False).created == 1
    config.enabled = False
    config.save()
    due_patient(day(4))
    assert outbox.reminders_scan(now=NOW, enqueue=False).created == 0


def test_it_does_not_remind_a_patient_who_has_not_started(make_patient: Callable[..., Patient]) -> None:
    patient = make_patient(email="new@example.org", email_reminders_consent=True, today=TODAY)
    CareStatus.objects.filter(patient=patient).update(phase="not_started", next_injection_due=TODAY)
    outbox.reminders_scan(now=NOW, enqueue=False)
    assert kinds(patient) == []


def test_it_skips_and_counts_patients_who_may_not_be_emailed(
    smtp: SmtpSink, due_patient: Callable[..., Patient], nurse
) -> None:
    welcome = due_patient(day(1))
    no_consent = due_patient(day(1), email_reminders_consent=False)
    opted_out = due_patient(day(1))
    patient_actions.patient_set_email_consent(patient=opted_out, consent=False, by=nurse)
    discharged = due_patient(day(1))
    patient_actions.patient_discharge(patient=discharged, by=nurse)
    set_due(discharged, injection=day(1))
    no_email = due_patient(day(1))
    no_email.email = ""
    no_email.save()

    run = beat.reminders_send_now(now=NOW)

    assert [str(m["To"]) for m in smtp.received()] == [welcome.email]
    assert (run.scan.created, run.scan.skipped) == (1, 4)
    assert selectors.reminder_status_counts(clinics=EVERY_CLINIC)[Status.SKIPPED] == 4
    reasons = dict(Reminder.objects.filter(status=Status.SKIPPED).values_list("patient_id", "reason"))
    assert reasons == {
        no_consent.pk: "no consent to email reminders",
        opted_out.pk: "opted out",
        discharged.pk: "discharged",
        no_email.pk: "no email address",
    }


def test_it_sends_a_skipped_reminder_once_consent_is_given_in_time(
    smtp: SmtpSink, due_patient: Callable[..., Patient], nurse
) -> None:
    patient = due_patient(day(2), email_reminders_consent=False)
    beat.reminders_send_now(now=NOW)
    patient_actions.patient_set_email_consent(patient=patient, consent=True, by=nurse)
    run = beat.reminders_send_now(now=NOW + datetime.timedelta(minutes=5))
    assert run.scan.unskipped == 1
    assert [str(m["To"]) for m in smtp.received()] == [patient.email]


# Sending ---------------------------------------------------------------------------------------------


def test_it_sends_once_when_the_send_service_is_called_twice(
    smtp: SmtpSink, due_patient: Callable[..., Patient]
) -> None:
    due_patient(day(1))
    (pk,) = outbox.reminders_scan(now=NOW, enqueue=False).due_ids
    outcomes = [outbox.reminder_send(reminder_id=pk, now=NOW).status for _ in range(2)]
    assert outcomes == ["sent", "not_claimed"]
    assert len(smtp.received()) == 1
    assert Reminder.objects.get(pk=pk).attempts == 1


def test_it_does_not_send_before_the_next_attempt_time_or_outside_the_window(
    smtp: SmtpSink, due_patient: Callable[..., Patient]
) -> None:
    due_patient(day(1))
    (pk,) = outbox.reminders_scan(now=NOW, enqueue=False).due_ids
    Reminder.objects.filter(pk=pk).update(next_attempt_at=NOW + datetime.timedelta(minutes=1))
    assert outbox.reminder_send(reminder_id=pk, now=NOW).status == "not_claimed"
    assert outbox.reminder_send(reminder_id=pk, now=NOW.replace(hour=21)).status == "outside_window"
    assert smtp.received() == []


def test_it_cancels_pending_reminders_in_the_transaction_that_records_the_injection(
    smtp: SmtpSink, due_patient: Callable[..., Patient], nurse
) -> None:
    patient = due_patient(day(0))
    outbox.reminders_scan(now=NOW, enqueue=False)

    def record() -> None:
        patient_actions.injection_record(
            patient=patient,
            given_at=NOW - datetime.timedelta(hours=1),
            drug="cyanocobalamin",
            dose_mcg=1000,
            route="im",
            site="left_deltoid",
            lot_number="CY-1",
            lot_expiry=day(300),
            given_by=nurse,
            now=NOW,
        )

    with pytest.raises(RuntimeError), transaction.atomic():  # a rolled-back write cancels nothing
        record()
        raise RuntimeError
    assert kinds(patient) == [("injection_due_soon", Status.PENDING)]

    record()
    reminder = Reminder.objects.get(patient=patient)
    assert (reminder.status, reminder.reason) == (Status.CANCELLED, "no longer due")
    beat.reminders_send_now(now=NOW)
    assert smtp.received() == []


def test_it_cancels_recheck_reminders_when_the_recheck_due_date_moves(due_patient: Callable[..., Patient]) -> None:
    patient = due_patient(day(2), recheck=day(1))
    outbox.reminders_scan(now=NOW, enqueue=False)
    set_due(patient, injection=day(2), recheck=day(90))  # the lab result was recorded: next recheck later
    outbox.reminders_cancel_obsolete(patient=patient, now=NOW)
    assert kinds(patient) == [("injection_due_soon", Status.PENDING), ("recheck_due_soon", Status.CANCELLED)]


def test_it_cancels_at_send_time_when_the_obligation_went_away(
    smtp: SmtpSink, due_patient: Callable[..., Patient]
) -> None:
    patient = due_patient(day(1))
    (pk,) = outbox.reminders_scan(now=NOW, enqueue=False).due_ids
    set_due(patient, injection=day(30))  # changed behind the outbox's back (e.g. a profile change)
    assert outbox.reminder_send(reminder_id=pk, now=NOW).status == Status.CANCELLED
    assert smtp.received() == []


def test_it_expires_a_due_soon_reminder_once_its_date_passed(due_patient: Callable[..., Patient]) -> None:
    patient = due_patient(day(0))
    outbox.reminders_scan(now=NOW, enqueue=False)
    outbox.reminders_scan(now=NOW + datetime.timedelta(days=1), enqueue=False)
    assert kinds(patient) == [("injection_due_soon", Status.CANCELLED)]


def test_it_retries_a_temporary_refusal_and_fails_a_permanent_one(
    smtp: SmtpSink, due_patient: Callable[..., Patient], nurse
) -> None:
    busy = due_patient(day(1))
    unknown = due_patient(day(1))
    smtp.refuse[busy.email] = "451 4.3.0 Mailbox busy, try later"
    smtp.refuse[unknown.email] = "550 5.1.1 No such user"

    beat.reminders_send_now(now=NOW)

    retry = Reminder.objects.get(patient=busy)
    failed = Reminder.objects.get(patient=unknown)
    assert (retry.status, retry.next_attempt_at) == (Status.PENDING, NOW + datetime.timedelta(minutes=1))
    assert "451" in retry.last_error
    assert (failed.status, "550" in failed.last_error) == (Status.FAILED, True)
    assert selectors.reminders_failed_count(clinics=EVERY_CLINIC) == 1
    assert smtp.received() == []

    smtp.refuse.clear()
    later = NOW + datetime.timedelta(minutes=1)
    beat.reminders_send_now(now=later)  # the retry goes; the failed one waits for a person
    assert [str(m["To"]) for m in smtp.received()] == [busy.email]
    assert outbox.reminder_retry(reminder=failed, by=nurse, now=later)
    beat.reminders_send_now(now=later)
    assert [str(m["To"]) for m in smtp.received()] == [busy.email, unknown.email]


def test_it_gives_up_after_the_last_attempt(smtp: SmtpSink, due_patient: Callable[..., Patient]) -> None:
    patient = due_patient(day(1))
    smtp.refuse[patient.email] = "451 try later"
    (pk,) = outbox.reminders_scan(now=NOW, enqueue=False).due_ids
    Reminder.objects.filter(pk=pk).update(attempts=rules.MAX_ATTEMPTS - 1)
    assert outbox.reminder_send(reminder_id=pk, now=NOW).status == "failed"


@pytest.mark.parametrize(("minutes_later", "requeued"), [(5, False), (29, False), (30, False), (31, True)])
def test_it_requeues_a_row_left_sending_only_after_the_longer_wait_and_says_it_may_have_gone(
    due_patient: Callable[..., Patient], minutes_later: int, requeued: bool
) -> None:
    due_patient(day(1))
    (pk,) = outbox.reminders_scan(now=NOW, enqueue=False).due_ids
    Reminder.objects.filter(pk=pk).update(status=Status.SENDING, claimed_at=NOW, enqueued_at=NOW)
    result = outbox.reminders_scan(now=NOW + datetime.timedelta(minutes=minutes_later), enqueue=False)
    assert (result.requeued, result.due_ids) == ((1, [pk]) if requeued else (0, []))
    if requeued:
        note = ReminderEvent.objects.filter(reminder_id=pk).last().note
        assert note.startswith("requeued, sent, not recorded: handed to the SMTP server at 10:00"), note
        assert "may already have been delivered" in note
        assert Reminder.objects.get(pk=pk).last_error.startswith(outbox.UNCONFIRMED)


@pytest.mark.parametrize(("minutes_later", "queued_again"), [(2, False), (3, False), (4, True)])
def test_it_queues_a_pending_row_again_once_its_task_was_lost_with_the_broker(
    settings, due_patient: Callable[..., Patient], minutes_later: int, queued_again: bool
) -> None:
    assert settings.REMINDER_STUCK_AFTER == 2 * settings.SEND_TASK_TIME_LIMIT == 180
    due_patient(day(1))
    (pk,) = outbox.reminders_scan(now=NOW).due_ids  # queued (marked), but the message never arrives
    later = NOW + datetime.timedelta(minutes=minutes_later)
    assert outbox.reminders_scan(now=later, enqueue=False).due_ids == ([pk] if queued_again else [])


def test_it_keeps_each_row_history(smtp: SmtpSink, due_patient: Callable[..., Patient]) -> None:
    patient = due_patient(day(1))
    beat.reminders_send_now(now=NOW)
    (reminder,) = selectors.reminders_for_patient(patient)
    assert [e.status for e in reminder.events.all()] == [Status.PENDING, Status.SENDING, Status.SENT]


# Under faults, in one process -------------------------------------------------------------------------

UTC = datetime.UTC


@pytest.mark.parametrize(
    ("utc_now", "shown"),
    [
        (datetime.datetime(2026, 3, 28, 10, 0, tzinfo=UTC), "10:01"),  # GMT, the day before clocks go forward
        (datetime.datetime(2026, 3, 30, 9, 0, tzinfo=UTC), "10:01"),  # BST: 09:01 UTC is 10:01 on the wall
        (datetime.datetime(2026, 10, 24, 9, 0, tzinfo=UTC), "10:01"),  # BST, the day before clocks go back
        (datetime.datetime(2026, 10, 26, 10, 0, tzinfo=UTC), "10:01"),  # GMT again
    ],
)
def test_it_writes_the_retry_time_in_clinic_time_across_clock_changes(
    smtp: SmtpSink, due_patient: Callable[..., Patient], utc_now: datetime.datetime, shown: str
) -> None:
    patient = due_patient(utc_now.date() + datetime.timedelta(days=1))
    smtp.refuse[patient.email] = "451 4.3.0 try later"
    (pk,) = outbox.reminders_scan(now=utc_now, enqueue=False).due_ids
    assert outbox.reminder_send(reminder_id=pk, now=utc_now).status == "retry"
    note = ReminderEvent.objects.filter(reminder_id=pk).last().note
    assert note.startswith(f"temporary error, retry after {shown}: "), note


_real_events = outbox._events


def _failing(times: int | None, original: Callable[..., object]) -> Callable[..., object]:
    """`original`, raising the error a cut database connection raises the first `times` calls (always
    when None)."""
    calls = iter(range(10**6))

    def wrapper(*args: object, **kwargs: object) -> object:
        if times is None or next(calls) < times:
            raise OperationalError("terminating connection due to administrator command")
        return original(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("where", ["claim", "build"])
def test_it_releases_a_row_at_once_when_the_database_fails_before_the_send(
    monkeypatch: pytest.MonkeyPatch, smtp: SmtpSink, due_patient: Callable[..., Patient], where: str
) -> None:
    due_patient(day(1))
    (pk,) = outbox.reminders_scan(now=NOW).due_ids  # queued: enqueued_at set
    if where == "claim":  # inside the claim's transaction: rolled back
        monkeypatch.setattr(outbox, "_obsolete_reason", _failing(None, outbox._obsolete_reason))
    else:  # after the claim committed, while building the message
        monkeypatch.setattr(outbox.emails, "reminder_email", _failing(None, outbox.emails.reminder_email))

    assert outbox.reminder_send(reminder_id=pk, now=NOW).status == "released"

    reminder = Reminder.objects.get(pk=pk)
    assert (reminder.status, reminder.attempts, reminder.enqueued_at) == (Status.PENDING, 1, None)
    assert reminder.last_error.startswith("not sent, released: OperationalError")
    assert smtp.received() == []
    monkeypatch.undo()
    # The next scan queues it again, without waiting for the stuck-row requeue.
    assert outbox.reminders_scan(now=NOW + datetime.timedelta(minutes=5), enqueue=False).due_ids == [pk]


def test_it_retries_recording_sent_until_the_database_is_back(
    settings, monkeypatch: pytest.MonkeyPatch, smtp: SmtpSink, due_patient: Callable[..., Patient]
) -> None:
    settings.REMINDER_RECORD_RETRY_SECONDS = 5
    due_patient(day(1))
    (pk,) = outbox.reminders_scan(now=NOW, enqueue=False).due_ids
    failing = _failing(2, outbox._events)

    def events(ids, status, note, now):  # noqa: ANN001, ANN202
        # Recording "sent" (its update and event, one transaction) meets a cut connection twice.
        return (failing if status == Status.SENT else _real_events)(ids, status, note, now)

    monkeypatch.setattr(outbox, "_events", events)
    assert outbox.reminder_send(reminder_id=pk, now=NOW).status == "sent"

    reminder = Reminder.objects.get(pk=pk)
    assert (reminder.status, reminder.attempts) == (Status.SENT, 1)
    assert smtp.message_ids() == [reminder.message_id]
    assert [e.status for e in reminder.events.all()].count(Status.SENT) == 1


def test_it_logs_sent_not_recorded_and_sends_again_only_after_the_longer_wait(
    settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    smtp: SmtpSink,
    due_patient: Callable[..., Patient],
) -> None:
    settings.REMINDER_RECORD_RETRY_SECONDS = 1
    due_patient(day(1))
    (pk,) = outbox.reminders_scan(now=NOW, enqueue=False).due_ids
    reminder = Reminder.objects.get(pk=pk)
    # Marking the row as accepted by the server (before anything else is handed over) meets a database
    # that stays away longer than the record retry.
    monkeypatch.setattr(sending, "_mark_accepted", _failing(None, sending._mark_accepted))
    with caplog.at_level(logging.ERROR, logger="reminders.outbox"):
        assert outbox.reminder_send(reminder_id=pk, now=NOW).status == "unrecorded"
    assert f"sent, not recorded: Message-ID {reminder.message_id}" in caplog.text
    assert "accepted by the SMTP server at 10:00" in caplog.text
    assert Reminder.objects.get(pk=pk).status == Status.SENDING  # the mark: handed over, never recorded
    monkeypatch.undo()

    for minutes, requeued in [(29, 0), (31, 1)]:
        assert outbox.reminders_scan(now=NOW + datetime.timedelta(minutes=minutes), enqueue=False).requeued == requeued
    later = NOW + datetime.timedelta(minutes=31)
    assert outbox.reminder_send(reminder_id=pk, now=later).status == "sent"
    assert smtp.message_ids() == [reminder.message_id] * 2  # the one duplicate this fault may cost
    notes = [e.note for e in Reminder.objects.get(pk=pk).events.all()]
    assert any(n.startswith("requeued, sent, not recorded: handed to the SMTP server at 10:00") for n in notes)
