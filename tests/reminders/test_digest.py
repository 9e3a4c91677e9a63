"""The daily staff digest: once per person and day, with the counts and links each role needs."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User

from patients.models import Patient
from protocols.models import CareStatus, Severity
from reminders import services
from reminders.models import StaffDigest, Status
from tests.reminders.conftest import SmtpSink

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
MORNING = datetime.datetime(2026, 3, 24, 7, 0, tzinfo=LONDON)


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_it_sends_each_nurse_and_physician_one_digest_a_day(
    smtp: SmtpSink, nurse: User, physician: User, stranger: User, due_patient: Callable[..., Patient]
) -> None:
    for user, address in ((nurse, "nina@clinic.example"), (physician, "phil@clinic.example")):
        user.email = address
        user.save()
    stranger.email = "sam@clinic.example"
    stranger.save()
    due_patient(MORNING.date())  # on today's worklist
    due_patient(MORNING.date() - datetime.timedelta(days=10))  # overdue: on it too
    alerted = due_patient(MORNING.date() + datetime.timedelta(days=20))
    CareStatus.objects.filter(patient=alerted).update(highest_severity=Severity.HIGH, verdict="oral_switch_candidate")

    ids = services.staff_digests_create(now=MORNING, enqueue=False)
    again = services.staff_digests_create(now=MORNING + datetime.timedelta(minutes=1), enqueue=False)
    assert len(ids) == 2 and set(again) == set(ids)  # the same two rows, still pending
    for pk in ids:
        services.staff_digest_send(digest_id=pk, now=MORNING)
        services.staff_digest_send(digest_id=pk, now=MORNING)
    assert services.staff_digests_create(now=MORNING + datetime.timedelta(hours=1), enqueue=False) == []

    received = {str(m["To"]): m for m in smtp.received()}
    assert sorted(received) == ["nina@clinic.example", "phil@clinic.example"]
    nurse_text = _body(received["nina@clinic.example"])
    assert "Worklist: 2 patients" in nurse_text and "http://127.0.0.1:8000/worklist/" in nurse_text
    physician_text = _body(received["phil@clinic.example"])
    assert "1 patient with a high alert" in physician_text
    assert "1 candidate for a switch to tablets" in physician_text
    assert "http://127.0.0.1:8000/dashboard/" in physician_text
    assert "Worklist" not in physician_text
    assert received["nina@clinic.example"]["Subject"] == "Your clinic: your day, Tuesday 24 March 2026"
    assert StaffDigest.objects.filter(status=Status.SENT).count() == 2


def test_it_drops_yesterdays_unsent_digest(smtp: SmtpSink, nurse: User) -> None:
    nurse.email = "nina@clinic.example"
    nurse.save()
    (pk,) = services.staff_digests_create(now=MORNING, enqueue=False)
    services.reminders_scan(now=MORNING + datetime.timedelta(days=1), enqueue=False)
    assert StaffDigest.objects.get(pk=pk).status == Status.CANCELLED
    assert smtp.received() == []
