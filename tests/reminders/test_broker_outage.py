"""Redis stopped during a scan: nothing is lost; after it returns every reminder goes out once."""

from __future__ import annotations

import datetime
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from patients.models import Patient
from reminders import outbox
from reminders.models import Reminder, Status
from tests.reminders.conftest import PrivateRedis, SmtpSink, Worker, purge, start_workers, use_broker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("migrated_rows_each")]


@pytest.fixture
def worker_on_private_redis(
    private_redis: PrivateRedis, smtp: SmtpSink, tmp_path: Path
) -> Iterator[tuple[PrivateRedis, Worker]]:
    queue = f"reminders-outage-{uuid.uuid4().hex[:8]}"
    (worker,) = start_workers(
        count=1, broker_url=private_redis.url, queue=queue, smtp_port=smtp.port, directory=tmp_path
    )
    undo = use_broker(private_redis.url, queue)
    try:
        yield private_redis, worker
    finally:
        undo()
        worker.stop()
        purge(private_redis.url, queue)


def test_it_loses_nothing_while_redis_is_down_and_sends_each_reminder_once_after(
    worker_on_private_redis: tuple[PrivateRedis, Worker],
    smtp: SmtpSink,
    reminder_settings,
    due_patient: Callable[..., Patient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis, worker = worker_on_private_redis
    today = timezone.localdate()
    patients = [due_patient(today + datetime.timedelta(days=n)) for n in range(3)]
    redis.stop()

    with caplog.at_level(logging.ERROR, logger="reminders.services"):
        result = outbox.reminders_scan(now=timezone.now())

    # The rows committed although the broker refused the tasks; the failure is logged, not raised.
    assert result.created == 3
    assert Reminder.objects.filter(patient__in=patients, status=Status.PENDING, enqueued_at=None).count() == 3
    assert "Could not queue" in caplog.text

    redis.start()
    outbox.reminders_scan(now=timezone.now())
    wait_for(lambda: len(smtp.received()) >= 3, timeout=30)
    outbox.reminders_scan(now=timezone.now())
    time.sleep(1)  # time for a (wrong) second send
    received = smtp.received()
    assert sorted(str(m["To"]) for m in received) == sorted(p.email for p in patients), worker.output()
    assert sorted(smtp.message_ids()) == sorted(Reminder.objects.values_list("message_id", flat=True))
    assert set(Reminder.objects.values_list("status", flat=True)) == {Status.SENT}
