"""The fault experiments of issue 17, kept as tests: real Celery workers on a private Redis, a real
SMTP server that holds its reply, drops the connection after DATA or answers slowly, and PostgreSQL
connections cut under the workers. Each test counts, at the SMTP server, the copies of every
Message-ID: nothing lost, and a second copy only where the README says one remains possible (a
disconnect after DATA, a worker killed between the server's acceptance and the record), at most one
per injected fault."""

from __future__ import annotations

import datetime
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from patients.models import Patient
from reminders import outbox
from reminders.models import Reminder, ReminderEvent, Status
from tests.reminders.conftest import (
    PrivateRedis,
    SmtpSink,
    Worker,
    _database_url,
    purge,
    start_workers,
    use_broker,
    wait_for,
)

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("migrated_rows_each"),
]


@dataclass
class Rig:
    """Workers on a private Redis, started when the test asks (kill one, start another)."""

    redis: PrivateRedis
    smtp: SmtpSink
    directory: Path
    queue: str = field(default_factory=lambda: f"reminders-faults-{uuid.uuid4().hex[:8]}")
    workers: list[Worker] = field(default_factory=list)

    def start(self, count: int = 1, *, pool: str = "solo", environment: dict[str, str] | None = None) -> list[Worker]:
        started = start_workers(
            count=count,
            broker_url=self.redis.url,
            queue=self.queue,
            smtp_port=self.smtp.port,
            directory=self.directory,
            pool=pool,
            environment=environment,
        )
        self.workers += started
        return started

    def logs(self) -> str:
        return "\n".join(w.output()[-4000:] for w in self.workers)


@pytest.fixture
def rig(private_redis: PrivateRedis, smtp: SmtpSink, tmp_path: Path, reminder_settings) -> Iterator[Rig]:
    setup = Rig(private_redis, smtp, tmp_path)
    undo = use_broker(private_redis.url, setup.queue)
    try:
        yield setup
    finally:
        undo()
        for worker in setup.workers:
            worker.stop()
        purge(private_redis.url, setup.queue)


def _due(due_patient: Callable[..., Patient], count: int) -> list[Patient]:
    today = timezone.localdate()
    return [due_patient(today + datetime.timedelta(days=n % 3)) for n in range(count)]


def _scan() -> outbox.ScanResult:
    return outbox.reminders_scan(now=timezone.now())


def _all_sent() -> bool:
    return not Reminder.objects.exclude(status=Status.SENT).exists()


def _scan_until_all_sent(timeout: float, every: float = 1.0) -> None:
    """The beat, faster: scan every `every` seconds until every reminder is recorded as sent."""
    deadline = time.monotonic() + timeout
    while not _all_sent():
        assert time.monotonic() < deadline, list(Reminder.objects.values_list("pk", "status", "last_error"))
        _scan()
        time.sleep(every)


def _assert_each_received(smtp: SmtpSink, *, twice: set[str] = frozenset()) -> None:
    """Every reminder's Message-ID at the server once, those of `twice` exactly twice: nothing lost."""
    copies = smtp.copies()
    expected = {
        message_id: 2 if message_id in twice else 1
        for message_id in Reminder.objects.values_list("message_id", flat=True)
    }
    assert dict(copies) == expected


# SMTP: a disconnect after DATA -------------------------------------------------------------------------


def test_it_does_not_resend_at_once_when_the_server_drops_the_connection_after_data(
    rig: Rig, smtp: SmtpSink, due_patient: Callable[..., Patient]
) -> None:
    _due(due_patient, 3)
    rig.start()
    smtp.drop_after_data = 1  # the first message is stored; its sender never hears so
    _scan()

    wait_for(lambda: Reminder.objects.filter(status=Status.SENT).count() == 2, timeout=20)
    (dropped,) = Reminder.objects.exclude(status=Status.SENT)
    time.sleep(1)  # time for a (wrong) immediate resend
    _assert_each_received(smtp)  # one copy each: no resend on the spot
    assert dropped.status == Status.PENDING and dropped.next_attempt_at > timezone.now()
    note = ReminderEvent.objects.filter(reminder=dropped).last().note
    assert "the connection was lost mid-send: the server may have it" in note

    # After its backoff the outbox sends it again: the one second copy this fault may cost.
    Reminder.objects.filter(pk=dropped.pk).update(next_attempt_at=timezone.now())
    _scan_until_all_sent(timeout=20)
    _assert_each_received(smtp, twice={dropped.message_id})


# A worker killed between the server's acceptance and the record --------------------------------------


def _kill(worker: Worker, victim: str) -> None:
    if victim == "worker":
        worker.kill()  # kill -9 of the worker: its batch message stays unacknowledged in Redis
    else:
        (child,) = worker.children()
        os.kill(child, signal.SIGKILL)  # the pool's child dies mid-batch; the worker starts another


@pytest.mark.parametrize("victim", ["worker", "pool-child"])
def test_a_worker_killed_after_the_server_took_the_message_costs_at_most_one_copy_after_the_longer_wait(
    rig: Rig, smtp: SmtpSink, due_patient: Callable[..., Patient], settings, victim: str
) -> None:
    _due(due_patient, 3)
    (worker,) = rig.start(pool="solo" if victim == "worker" else "prefork")
    smtp.hold.set()  # the server stores the first message of the batch and keeps its reply back
    _scan()
    assert smtp.holding.wait(timeout=20), rig.logs()
    held = Reminder.objects.get(message_id=smtp.message_ids()[0])
    assert held.pk == min(Reminder.objects.values_list("pk", flat=True))  # a batch goes in id order

    _kill(worker, victim)
    smtp.hold.clear()
    if victim == "worker":
        rig.start()  # another worker takes the rest of the queue
    assert Reminder.objects.filter(status=Status.SENDING).count() == 3  # all three claimed by the batch
    assert _scan().released == 0  # before the batch is certainly over: left alone

    settings.SEND_TASK_TIME_LIMIT = 1  # twice the send task's hard limit has passed: the batch is over
    time.sleep(2.1)
    repaired = _scan()
    assert (repaired.recorded, repaired.released, repaired.requeued) == (0, 2, 0)  # the held one waits
    wait_for(lambda: Reminder.objects.filter(status=Status.SENT).count() == 2, timeout=30)
    _scan()
    time.sleep(1)
    held.refresh_from_db()
    assert held.status == Status.SENDING, rig.logs()
    _assert_each_received(smtp)

    settings.REMINDER_UNCONFIRMED_AFTER = 1  # the longer wait has passed
    assert _scan().requeued == 1
    _scan_until_all_sent(timeout=20)
    _assert_each_received(smtp, twice={held.message_id})  # the one duplicate this fault may cost
    notes = list(ReminderEvent.objects.filter(reminder=held).values_list("note", flat=True))
    assert any(note.startswith("requeued, sent, not recorded: handed to the SMTP server at") for note in notes)


@pytest.mark.parametrize("victim", ["worker", "pool-child"])
def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_at_most_the_message_in_flight(
    rig: Rig, smtp: SmtpSink, due_patient: Callable[..., Patient], settings, victim: str
) -> None:
    count = 40
    _due(due_patient, count)
    (worker,) = rig.start(pool="solo" if victim == "worker" else "prefork", environment={"SEND_BATCH_SIZE": "50"})
    smtp.reply_delay = 0.02  # some 40 messages a second: the one batch takes about a second
    _scan()
    wait_for(lambda: len(smtp.received()) >= 12, timeout=30, interval=0.01)
    _kill(worker, victim)  # somewhere in the middle of the batch, wherever it happens to be

    # Right after the kill: nothing twice; what the server has is marked as accepted, but for at most
    # the one message in flight; nothing else was handed over (claimed rows waiting, or pending).
    received = set(smtp.message_ids())
    assert 12 <= len(received) < count and max(smtp.copies().values()) == 1
    rows = {m: (status, sent) for m, status, sent in Reminder.objects.values_list("message_id", "status", "sent_at")}
    marked = {m for m, (status, sent) in rows.items() if status == Status.SENDING and sent is not None}
    assert marked <= received and len(received - marked) <= 1, (len(received), len(marked))
    assert {status for status, _ in rows.values()} <= {Status.SENDING, Status.SENT, Status.PENDING}

    if victim == "worker":
        rig.start()
    settings.SEND_TASK_TIME_LIMIT = 1  # twice the send task's hard limit has passed: the batch is over
    time.sleep(2.1)
    repaired = _scan()
    # The accepted ones are recorded without a second copy; all unmarked ones but the first (maybe in
    # flight) go again at once.
    assert (repaired.recorded, repaired.released) == (len(marked), count - len(marked) - 1)
    wait_for(lambda: Reminder.objects.filter(status=Status.SENT).count() == count - 1, timeout=30)
    (in_flight,) = Reminder.objects.exclude(status=Status.SENT)
    assert in_flight.status == Status.SENDING and in_flight.message_id not in marked
    time.sleep(0.5)
    copies = smtp.copies()
    assert all(copies[m] == 1 for m in rows if m != in_flight.message_id), rig.logs()
    recorded_note = ReminderEvent.objects.filter(reminder__message_id__in=marked, status=Status.SENT).first().note
    assert recorded_note.startswith("sent: accepted by the SMTP server at")

    settings.REMINDER_UNCONFIRMED_AFTER = 1  # the longer wait has passed: the one in flight goes again
    assert _scan().requeued == 1
    _scan_until_all_sent(timeout=20)
    copies = smtp.copies()
    assert set(copies) == set(rows)  # nothing lost
    assert sum(copies.values()) - count <= 1  # at most the one message in flight twice
    assert [m for m, n in copies.items() if n > 1] in ([], [in_flight.message_id])


# Redis killed with messages queued, back empty ------------------------------------------------------


def test_it_loses_nothing_when_redis_dies_with_queued_messages_and_comes_back_empty(
    rig: Rig, smtp: SmtpSink, due_patient: Callable[..., Patient], settings
) -> None:
    _due(due_patient, 5)
    assert len(_scan().due_ids) == 5  # published, and nobody consumes them yet
    rig.redis.stop()
    rig.redis.start()  # no persistence: the five messages are gone
    rig.start()
    assert _scan().due_ids == []  # not yet: they might still be on their way
    time.sleep(1)
    assert smtp.received() == []

    settings.REMINDER_STUCK_AFTER = 1  # the timeout (the send task's hard limit, doubled) has passed
    time.sleep(1.1)
    assert len(_scan().due_ids) == 5
    _scan_until_all_sent(timeout=20)
    _assert_each_received(smtp)


# PostgreSQL connections cut under the workers ----------------------------------------------------------


@dataclass
class Cutter:
    """Terminates every connection to the test database but the test's own, once or every `every` s."""

    url: str
    spared: int
    cuts: int = 0

    def cut(self) -> int:
        with psycopg.connect(self.url, autocommit=True) as admin:
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s",
                [self.spared],
            ).fetchall()
        self.cuts += len(rows)
        return len(rows)

    def flap(self, *, seconds: float, every: float) -> threading.Thread:
        def run() -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                self.cut()
                time.sleep(every)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


@pytest.fixture
def cutter(postgres_database: str) -> Cutter:
    if connection.vendor != "postgresql":
        pytest.skip("cuts PostgreSQL connections")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (own,) = cursor.fetchone()
    return Cutter(url=_database_url(), spared=own)


def test_it_records_once_when_the_database_connection_is_cut_after_the_server_took_the_message(
    rig: Rig, smtp: SmtpSink, due_patient: Callable[..., Patient], cutter: Cutter
) -> None:
    _due(due_patient, 2)
    rig.start()
    smtp.hold.set()
    _scan()
    assert smtp.holding.wait(timeout=20), rig.logs()
    assert cutter.cut() >= 1  # the worker's connection, while the server holds the reply
    smtp.hold.clear()

    wait_for(_all_sent, timeout=30)
    time.sleep(1)
    _assert_each_received(smtp)  # the record was retried on a new connection: no second copy
    assert "database unreachable, retrying" in rig.logs()


def test_it_sends_every_reminder_once_through_a_15_second_database_flap(
    rig: Rig, smtp: SmtpSink, due_patient: Callable[..., Patient], cutter: Cutter, settings
) -> None:
    count = 60
    _due(due_patient, count)
    settings.REMINDER_STUCK_AFTER = 3  # so the test's fast beat queues again what a cut lost
    rig.start(2)
    smtp.reply_delay = 0.25  # about 8 a second with two workers: the sending spans the flap

    flap = cutter.flap(seconds=15, every=0.5)
    started = time.monotonic()
    _scan()
    while flap.is_alive():
        time.sleep(1)
        _scan()  # the beat keeps going (its own connection is spared)
    flap.join()
    assert time.monotonic() - started >= 15
    _scan_until_all_sent(timeout=40)
    time.sleep(1)
    _assert_each_received(smtp)  # exactly once each (19 duplicates of 375 before issue 17)
    assert cutter.cuts >= 20, cutter.cuts
    sent_events = ReminderEvent.objects.filter(status=Status.SENT).count()
    assert sent_events == count
