"""Sending in batches (reminders.sending), in one process: one claim, one SMTP session and one record per
batch, each email at most once per claim; the scan queues batches and repairs a batch that stopped."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from b12clinic.celery import app as celery_app
from patients import services as record
from patients.models import Patient
from reminders import digest, outbox, sending, tasks
from reminders.models import Reminder, ReminderEvent, Status
from tests.reminders.conftest import SmtpSink, set_due

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
NOW = datetime.datetime(2026, 3, 24, 10, 0, tzinfo=LONDON)  # inside the default 08:00-20:00 window


def day(offset: int) -> datetime.date:
    return NOW.date() + datetime.timedelta(days=offset)


def _due(due_patient: Callable[..., Patient], count: int) -> list[int]:
    for _ in range(count):
        due_patient(day(1))
    return outbox.reminders_scan(now=NOW, enqueue=False).due_ids


# Claiming ------------------------------------------------------------------------------------------


def test_it_claims_only_the_due_pending_rows_of_a_batch_and_each_only_once(
    due_patient: Callable[..., Patient],
) -> None:
    ids = _due(due_patient, 5)
    later, rivals = ids[1], ids[3]
    Reminder.objects.filter(pk=later).update(next_attempt_at=NOW + datetime.timedelta(minutes=1))
    assert sending.claim(Reminder, rivals, NOW)  # another worker holds this one

    assert sending.claim_batch(Reminder, list(reversed(ids)), NOW) == [ids[0], ids[2], ids[4]]
    assert sending.claim_batch(Reminder, ids, NOW) == []  # a batch delivered twice claims nothing
    claimed = Reminder.objects.filter(pk__in=[ids[0], ids[2], ids[4]])
    assert {(r.status, r.attempts, r.claimed_at, r.sent_at) for r in claimed} == {(Status.SENDING, 1, NOW, None)}
    assert Reminder.objects.get(pk=later).status == Status.PENDING


# Sending -------------------------------------------------------------------------------------------


def test_it_sends_a_batch_over_one_smtp_session_with_one_write_per_email_beyond_a_constant(
    smtp: SmtpSink, due_patient: Callable[..., Patient]
) -> None:
    ids = _due(due_patient, 25)
    sending.emails.close_connection()  # no session left open by an earlier test
    with CaptureQueriesContext(connection) as small:
        outcomes = outbox.reminders_send(reminder_ids=ids[:5], now=NOW)
    with CaptureQueriesContext(connection) as large:
        outcomes |= outbox.reminders_send(reminder_ids=ids[5:], now=NOW)

    assert {o.status for o in outcomes.values()} == {"sent"} and len(outcomes) == 25
    assert smtp.sessions == 1  # the second batch reused the session, checked once with NOOP
    assert sorted(smtp.message_ids()) == sorted(Reminder.objects.values_list("message_id", flat=True))
    assert len(large.captured_queries) - len(small.captured_queries) == 15  # the mark, per email
    assert set(Reminder.objects.values_list("status", "attempts", "sent_at")) == {(Status.SENT, 1, NOW)}
    histories = {tuple(r.events.values_list("status", flat=True)) for r in Reminder.objects.all()}
    assert histories == {(Status.PENDING, Status.SENDING, Status.SENT)}


def test_it_settles_each_row_of_a_mixed_batch_on_its_own(smtp: SmtpSink, due_patient: Callable[..., Patient]) -> None:
    patients = {name: due_patient(day(1)) for name in ("first", "withdrawn", "moved", "busy", "unknown", "last")}
    outbox.reminders_scan(now=NOW, enqueue=False)
    by_name = {name: Reminder.objects.get(patient=p).pk for name, p in patients.items()}
    # Changed behind the outbox's back (the record's own service, not the action that also cancels).
    record.patient_set_email_consent(patient=patients["withdrawn"], consent=False, now=NOW)
    set_due(patients["moved"], injection=day(30))
    smtp.refuse[patients["busy"].email] = "451 4.3.0 Mailbox busy, try later"
    smtp.refuse[patients["unknown"].email] = "550 5.1.1 No such user"

    outcomes = outbox.reminders_send(reminder_ids=list(by_name.values()), now=NOW)

    assert {name: outcomes[pk].status for name, pk in by_name.items()} == {
        "first": "sent",
        "withdrawn": Status.SKIPPED,
        "moved": Status.CANCELLED,
        "busy": "retry",
        "unknown": "failed",
        "last": "sent",
    }
    assert [str(m["To"]) for m in smtp.received()] == [patients["first"].email, patients["last"].email]
    rows = {name: Reminder.objects.get(pk=pk) for name, pk in by_name.items()}
    assert (rows["withdrawn"].status, rows["withdrawn"].reason) == (Status.SKIPPED, "opted out")
    assert rows["moved"].status == Status.CANCELLED and rows["moved"].reason.startswith("no longer due")
    busy = rows["busy"]
    assert (busy.status, busy.next_attempt_at, busy.enqueued_at) == (
        Status.PENDING,
        NOW + datetime.timedelta(minutes=1),
        None,
    )
    assert rows["unknown"].status == Status.FAILED and "550" in rows["unknown"].last_error
    assert rows["first"].status == rows["last"].status == Status.SENT


def test_a_batch_that_runs_out_of_time_releases_what_it_did_not_hand_over(
    settings, smtp: SmtpSink, due_patient: Callable[..., Patient]
) -> None:
    ids = _due(due_patient, 4)
    # The soft time limit less the record retry and one SMTP timeout: no time left after the first.
    settings.SEND_TASK_SOFT_TIME_LIMIT, settings.REMINDER_RECORD_RETRY_SECONDS, settings.EMAIL_TIMEOUT = 31, 30, 5
    outcomes = outbox.reminders_send(reminder_ids=ids, now=NOW)

    assert [outcomes[pk].status for pk in ids] == ["sent", "released", "released", "released"]
    assert smtp.message_ids() == [Reminder.objects.get(pk=ids[0]).message_id]
    rest = Reminder.objects.filter(pk__in=ids[1:])
    assert set(rest.values_list("status", "attempts", "enqueued_at")) == {(Status.PENDING, 1, None)}
    assert all(r.last_error.startswith("not sent, released: the send batch ran out of time") for r in rest)
    later = NOW + datetime.timedelta(minutes=5)
    assert outbox.reminders_scan(now=later, enqueue=False).due_ids == ids[1:]  # queued again at once


def test_a_row_handed_over_and_not_marked_stops_the_batch(
    settings, monkeypatch: pytest.MonkeyPatch, smtp: SmtpSink, due_patient: Callable[..., Patient]
) -> None:
    from django.db import OperationalError

    settings.REMINDER_RECORD_RETRY_SECONDS = 0
    ids = _due(due_patient, 3)

    def unreachable(row, now):  # noqa: ANN001, ANN202
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(sending, "_mark_accepted", unreachable)
    outcomes = outbox.reminders_send(reminder_ids=ids, now=NOW)

    # The first went and could not be marked: nothing more is handed over while the database is away.
    assert [outcomes[pk].status for pk in ids] == ["unrecorded", "not_sent", "not_sent"]
    assert len(smtp.received()) == 1
    assert set(Reminder.objects.values_list("status", "sent_at")) == {(Status.SENDING, None)}


# The scan: batches after commit, and the repair of a batch that stopped -------------------------------


def test_the_scan_queues_the_ready_rows_in_batches_after_commit(
    settings, monkeypatch: pytest.MonkeyPatch, due_patient: Callable[..., Patient], django_capture_on_commit_callbacks
) -> None:
    settings.SEND_BATCH_SIZE = 2
    published: list[tuple[str, list[object]]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: published.append((name, args)))
    for _ in range(5):
        due_patient(day(1))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ids = outbox.reminders_scan(now=NOW).due_ids
        assert published == []  # nothing before the rows are committed
    assert len(callbacks) == 1
    assert published == [
        ("reminders.tasks.send_batch", ["reminders.reminder", ids[0:2]]),
        ("reminders.tasks.send_batch", ["reminders.reminder", ids[2:4]]),
        ("reminders.tasks.send_batch", ["reminders.reminder", ids[4:5]]),
    ]


def test_a_broker_failing_mid_publish_leaves_the_unpublished_batches_for_the_next_scan(
    settings, monkeypatch: pytest.MonkeyPatch, due_patient: Callable[..., Patient], django_capture_on_commit_callbacks
) -> None:
    settings.SEND_BATCH_SIZE = 2
    calls = iter(range(10))

    def send_task(name, args):  # noqa: ANN001, ANN202
        if next(calls) >= 1:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(celery_app, "send_task", send_task)
    for _ in range(5):
        due_patient(day(1))
    with django_capture_on_commit_callbacks(execute=True):
        ids = outbox.reminders_scan(now=NOW).due_ids
    queued = dict(Reminder.objects.values_list("pk", "enqueued_at"))
    assert [queued[pk] for pk in ids] == [NOW, NOW, None, None, None]


@pytest.mark.parametrize(("seconds_later", "repaired"), [(120, False), (180, False), (181, True)])
def test_the_scan_repairs_a_stopped_batch_once_it_is_certainly_over(
    due_patient: Callable[..., Patient], seconds_later: int, repaired: bool
) -> None:
    ids = _due(due_patient, 5)
    claimed = sending.claim_batch(Reminder, ids, NOW)  # the worker that claimed them is killed ...
    rows = list(Reminder.objects.filter(pk__in=claimed).order_by("pk"))
    for row in rows[:2]:  # ... after the server accepted two and before it recorded them
        sending._mark_accepted(row, NOW)
    # The third may have been in flight; the fourth and fifth were never handed over.

    later = NOW + datetime.timedelta(seconds=seconds_later)  # twice the send task's hard limit (90 s)
    result = outbox.reminders_scan(now=later, enqueue=False)

    status = dict(Reminder.objects.values_list("pk", "status"))
    if not repaired:
        assert (result.recorded, result.released, result.due_ids) == (0, 0, [])
        assert set(status.values()) == {Status.SENDING}
        return
    assert (result.recorded, result.released, result.due_ids) == (2, 2, ids[3:])
    assert [status[pk] for pk in ids] == [Status.SENT, Status.SENT, Status.SENDING, Status.PENDING, Status.PENDING]
    note = ReminderEvent.objects.filter(reminder_id=ids[0]).last().note
    assert note.startswith("sent: accepted by the SMTP server at 10:00; recorded by the scan")
    assert Reminder.objects.get(pk=ids[3]).last_error == sending.NEVER_HANDED_OVER
    assert not sending.NEVER_HANDED_OVER.startswith(sending.UNCONFIRMED)  # not among "sent, not recorded"

    # The one that may have been in flight goes again only after the longer wait, saying so.
    assert outbox.reminders_scan(now=NOW + datetime.timedelta(minutes=29), enqueue=False).requeued == 0
    assert outbox.reminders_scan(now=NOW + datetime.timedelta(minutes=31), enqueue=False).requeued == 1
    assert ReminderEvent.objects.filter(reminder_id=ids[2]).last().note.startswith("requeued, sent, not recorded")


# Other outbox models -----------------------------------------------------------------------------


def test_the_batch_task_sends_any_registered_outbox_model(smtp: SmtpSink, nurse) -> None:
    nurse.email = "nina@clinic.example"
    nurse.save()
    (pk,) = digest.staff_digests_create(now=timezone.now(), enqueue=False)  # the task sends at the wall clock's now

    assert tasks.send_batch("reminders.staffdigest", [pk]) == {"sent": 1}
    assert tasks.send_batch("reminders.staffdigest", [pk]) == {"not_claimed": 1}
    assert [str(m["To"]) for m in smtp.received()] == ["nina@clinic.example"]
    with pytest.raises(LookupError):
        sending.outbound_for("reminders.nothing")


def test_deliver_sends_one_claimed_row_and_records_it_with_its_history(
    smtp: SmtpSink, due_patient: Callable[..., Patient]
) -> None:
    (pk,) = _due(due_patient, 1)
    assert sending.claim(Reminder, pk, NOW)
    reminder = Reminder.objects.select_related("patient").get(pk=pk)
    history: list[tuple[str, str]] = []

    outcome = sending.deliver(
        reminder, lambda: sending.emails.reminder_email(reminder), NOW, lambda *h: history.append(h)
    )

    assert (outcome.status, history) == ("sent", [(Status.SENT, "")])
    assert (Reminder.objects.get(pk=pk).status, smtp.message_ids()) == (Status.SENT, [reminder.message_id])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("migrated_rows_each")
def test_batches_racing_for_the_same_rows_claim_each_row_once(due_patient: Callable[..., Patient]) -> None:
    ids = _due(due_patient, 40)
    start = threading.Barrier(4)
    claims: list[list[int]] = []

    def worker(offset: int) -> None:  # its own database connection, as another worker process would have
        try:
            start.wait(timeout=10)
            claims.append(sending.claim_batch(Reminder, ids[offset:] + ids[:offset], NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in (0, 10, 20, 30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    claimed = [pk for claim in claims for pk in claim]
    assert len(claims) == 4 and sorted(claimed) == sorted(ids)  # every row once, none twice
    assert set(Reminder.objects.values_list("status", "attempts")) == {(Status.SENDING, 1)}
