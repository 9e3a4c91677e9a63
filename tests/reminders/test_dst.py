"""Europe/London changes its clocks on the last Sunday of March and of October. Scanning every 15
minutes (by the UTC clock, as beat does) across those days must neither skip nor double a day's
reminders, and the send window must hold in local time."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
import time_machine

from patients.models import Patient
from reminders import beat
from reminders.models import Reminder, Status
from tests.reminders.conftest import SmtpSink

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
UTC = datetime.UTC
STEP = datetime.timedelta(minutes=15)
OFFSETS = range(-4, 5)  # due dates from 4 days before the change to 4 days after


@pytest.mark.parametrize(
    "change_day",
    [datetime.date(2026, 3, 29), datetime.date(2026, 10, 25)],
    ids=["clocks-forward", "clocks-back"],
)
def test_it_neither_skips_nor_doubles_a_day_across_a_clock_change(
    settings, smtp: SmtpSink, due_patient: Callable[..., Patient], change_day: datetime.date
) -> None:
    assert settings.TIME_ZONE == "Europe/London"
    first_day = change_day - datetime.timedelta(days=2)
    last_day = change_day + datetime.timedelta(days=2)
    patients = {offset: due_patient(change_day + datetime.timedelta(days=offset)) for offset in OFFSETS}

    start = datetime.datetime.combine(first_day, datetime.time(0), LONDON).astimezone(UTC)
    end = datetime.datetime.combine(last_day + datetime.timedelta(days=1), datetime.time(0), LONDON).astimezone(UTC)
    with time_machine.travel(start, tick=False) as traveller:
        instant = start
        while instant < end:
            traveller.move_to(instant)
            beat.reminders_send_now(now=instant)
            instant += STEP

    # Due soon: N = 3 days ahead; overdue: M = 3 days late, within the days scanned.
    expected = set()
    for offset, patient in patients.items():
        due = change_day + datetime.timedelta(days=offset)
        soon_from = max(due - datetime.timedelta(days=3), first_day)
        if soon_from <= due and soon_from <= last_day:
            expected.add((patient.pk, "injection_due_soon", due, soon_from))
        overdue_on = due + datetime.timedelta(days=3)
        if first_day <= overdue_on <= last_day:
            expected.add((patient.pk, "injection_overdue", due, overdue_on))

    rows = Reminder.objects.all()
    # Each reminder once, on the first day it is due, at the first scan of the window (08:00 local).
    assert {(r.patient_id, r.kind, r.due_date, r.created_at.astimezone(LONDON).date()) for r in rows} == expected
    assert len(rows) == len(expected)
    for row in rows:
        created, sent = row.created_at.astimezone(LONDON), row.sent_at.astimezone(LONDON)
        assert (created.hour, created.minute) == (8, 0), row
        assert row.status == Status.SENT and 8 <= sent.hour < 20
    # ... and the SMTP server got each exactly once.
    assert sorted(smtp.message_ids()) == sorted(r.message_id for r in rows)
