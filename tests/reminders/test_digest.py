"""The daily staff digest: once per person and day, with the counts and links each role needs."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User

from care import selectors
from care.models import CareAlert, CareStatus, Severity
from patients.models import Patient
from reminders import beat, digest, outbox
from reminders.models import StaffDigest, Status
from tests.conftest import EVERY_CLINIC
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
    CareStatus.objects.filter(patient=alerted).update(verdict="oral_switch_candidate")
    CareAlert.objects.create(
        patient=alerted,
        clinic=alerted.clinic,
        rule="ALERT-B12-LOW",
        severity=Severity.HIGH,
        since=MORNING.date(),
        message="x",
    )

    ids = digest.staff_digests_create(now=MORNING, enqueue=False)
    again = digest.staff_digests_create(now=MORNING + datetime.timedelta(minutes=1), enqueue=False)
    assert len(ids) == 2 and set(again) == set(ids)  # the same two rows, still pending
    for pk in ids:
        digest.staff_digest_send(digest_id=pk, now=MORNING)
        digest.staff_digest_send(digest_id=pk, now=MORNING)
    assert digest.staff_digests_create(now=MORNING + datetime.timedelta(hours=1), enqueue=False) == []

    received = {str(m["To"]): m for m in smtp.received()}
    assert sorted(received) == ["nina@clinic.example", "phil@clinic.example"]
    nurse_text = _body(received["nina@clinic.example"])
    assert "Worklist: 2 injections due today or overdue, 0 blood tests" in nurse_text
    assert "http://127.0.0.1:8000/worklist/" in nurse_text
    physician_text = _body(received["phil@clinic.example"])
    assert "1 high alert and 0 medium alerts not yet acknowledged" in physician_text
    assert "1 candidate for a switch to tablets awaiting a decision" in physician_text
    assert "http://127.0.0.1:8000/dashboard/" in physician_text
    assert "Worklist" not in physician_text
    assert received["nina@clinic.example"]["Subject"] == "Your clinic: your day, Tuesday 24 March 2026"
    assert StaffDigest.objects.filter(status=Status.SENT).count() == 2


def test_the_digest_shows_the_dashboards_and_the_worklists_own_numbers(
    nurse: User, physician: User, due_patient: Callable[..., Patient], make_patient: Callable[..., Patient]
) -> None:
    """One definition each: whatever the mix of patients, the digest's numbers are the pages'."""
    today = MORNING.date()
    for days in (0, 3, 10, 59, 61, 200):  # due today, overdue, lost to follow-up
        due_patient(today - datetime.timedelta(days=days), recheck=today + datetime.timedelta(days=days - 5))
    candidate = due_patient(today + datetime.timedelta(days=20))
    CareStatus.objects.filter(patient=candidate).update(verdict="oral_switch_candidate")
    on_oral = due_patient(today + datetime.timedelta(days=20))
    CareStatus.objects.filter(patient=on_oral).update(verdict="oral_switch_candidate", phase="oral")
    discharged = due_patient(today - datetime.timedelta(days=2))
    CareStatus.objects.filter(patient=discharged).update(patient_active=False)
    for rule, severity in (("ALERT-B12-LOW", Severity.HIGH), ("ALERT-IRON-DEFICIENCY", Severity.MEDIUM)):
        CareAlert.objects.create(
            patient=candidate, clinic=candidate.clinic, rule=rule, severity=severity, since=today, message="x"
        )
    physician.email, nurse.email = "phil@clinic.example", "nina@clinic.example"
    physician.save()
    nurse.save()
    sent = {}
    for row in StaffDigest.objects.filter(pk__in=digest.staff_digests_create(now=MORNING, enqueue=False)):
        sent[row.user.username] = digest.staff_digest_email(row, today).body

    board = selectors.dashboard(today=today, clinics=EVERY_CLINIC).counts
    worklist = selectors.worklist(today=today, clinics=EVERY_CLINIC)
    assert (
        f"Worklist: {worklist.injections_total} injections due today or overdue, {worklist.rechecks_total} blood tests"
        in sent[nurse.username]
    )
    physician_text = sent[physician.username]
    assert f"{board['alerts_high']} high alert and {board['alerts_medium']} medium alert " in physician_text
    assert f"{board['oral_candidates']} candidate for a switch" in physician_text
    assert f"{board['overdue']} injections overdue, {board['lost']} patients lost to follow-up" in physician_text
    assert (board["overdue"], board["lost"], board["oral_candidates"]) == (3, 2, 1)


def test_it_drops_yesterdays_unsent_digest(smtp: SmtpSink, nurse: User) -> None:
    nurse.email = "nina@clinic.example"
    nurse.save()
    (pk,) = digest.staff_digests_create(now=MORNING, enqueue=False)
    outbox.reminders_scan(now=MORNING + datetime.timedelta(days=1), enqueue=False)
    assert StaffDigest.objects.get(pk=pk).status == Status.CANCELLED
    assert smtp.received() == []


@pytest.mark.parametrize(
    ("hour", "minute", "digest_hour", "made"),
    [(6, 55, 7, False), (7, 0, 7, True), (9, 30, 7, True), (9, 30, 10, False), (10, 0, 10, True)],
)
def test_the_beat_makes_the_days_digests_from_the_clinics_digest_hour(
    nurse: User, reminder_settings, hour: int, minute: int, digest_hour: int, made: bool
) -> None:
    nurse.email = "nina@clinic.example"
    nurse.save()
    reminder_settings.digest_hour = digest_hour
    reminder_settings.save()
    tick = datetime.datetime(2026, 3, 24, hour, minute, tzinfo=LONDON)
    scan = beat.beat_tick(now=tick, enqueue=False)
    assert StaffDigest.objects.filter(user=nurse, date=tick.date()).exists() is made
    assert len(scan.digest_ids) == int(made)
    beat.beat_tick(now=tick + datetime.timedelta(minutes=1), enqueue=False)
    assert StaffDigest.objects.filter(user=nurse).count() == int(made)  # one a day, however many ticks
