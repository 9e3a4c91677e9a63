"""Emails that name a booked appointment: its date and time in the clinic's time zone (across clock
changes, in two hemispheres), the .ics invitation read back with icalendar, one notice per version of
the appointment however often it is queued or scanned, an update on a reschedule and a cancellation
on a cancel, and the consent rules (a letter instead)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from icalendar import Calendar

from clinic import actions as patient_actions
from outreach.models import Appointment, AppointmentStatus
from patients.models import Patient
from reminders import beat, outbox
from reminders.appointments import appointment_notice_queue
from reminders.models import Channel, Kind, Reminder, ReminderEvent, ReminderSettings, Status
from tests.reminders.conftest import SmtpSink

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
# Friday 20 March 2026, 10:00 in London: before the clocks go forward (Sunday 29 March).
NOW = datetime.datetime(2026, 3, 20, 10, 0, tzinfo=LONDON)


@pytest.fixture
def riverside(settings, nurse: User):
    """The patients' clinic, with its letterhead; its time zone is set per test."""
    settings.CLINIC_EMAIL_NAME = "Riverside Clinic"
    settings.SITE_URL = "https://clinic.example.org"
    clinic = nurse.clinics.get()
    clinic.address, clinic.phone, clinic.email = "1 River Lane\nLondon", "020 7946 0000", "bookings@riverside.example"
    clinic.save()
    return clinic


def book(patient: Patient, at: datetime.datetime, *, by: User, kind: str = "injection") -> Appointment:
    """What the booking action leaves (it is built beside this): a booked appointment, version 0."""
    return Appointment.objects.create(
        patient=patient, kind=kind, starts_at=at, booked_by=by, booked_at=NOW, updated_at=NOW
    )


def reschedule(appointment: Appointment, at: datetime.datetime) -> Appointment:
    appointment.starts_at, appointment.sequence = at, appointment.sequence + 1
    appointment.save()
    return appointment


def cancel(appointment: Appointment) -> Appointment:
    appointment.status, appointment.sequence = AppointmentStatus.CANCELLED, appointment.sequence + 1
    appointment.save()
    return appointment


def parts(message) -> tuple[str, str, Calendar]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    (ics,) = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
    assert ics.get_filename() == "appointment.ics"
    return text, html, Calendar.from_ical(ics.get_content())


def event_of(calendar: Calendar):
    (event,) = calendar.walk("VEVENT")
    return event


@pytest.fixture
def patient(riverside, make_patient: Callable[..., Patient]) -> Patient:
    return make_patient(given_name="Ada", email="ada@example.org", email_reminders_consent=True)


# Time zones across a clock change ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "local", "utc_offset", "said"),
    [
        # London: GMT until Sunday 29 March 2026 01:00 UTC, then BST (+1); GMT again from 25 October.
        ("Europe/London", datetime.datetime(2026, 3, 28, 9, 30), 0, "Saturday 28 March 2026 at 09:30"),
        ("Europe/London", datetime.datetime(2026, 3, 30, 9, 30), 1, "Monday 30 March 2026 at 09:30"),
        ("Europe/London", datetime.datetime(2026, 10, 24, 9, 30), 1, "Saturday 24 October 2026 at 09:30"),
        ("Europe/London", datetime.datetime(2026, 10, 26, 9, 30), 0, "Monday 26 October 2026 at 09:30"),
        # New York: EST (-5) until Sunday 8 March 2026, then EDT (-4).
        ("America/New_York", datetime.datetime(2026, 3, 7, 14, 0), -5, "Saturday 7 March 2026 at 14:00"),
        ("America/New_York", datetime.datetime(2026, 3, 9, 14, 0), -4, "Monday 9 March 2026 at 14:00"),
        # Sydney, the other way round: AEDT (+11) until Sunday 5 April 2026, then AEST (+10).
        ("Australia/Sydney", datetime.datetime(2026, 4, 4, 8, 15), 11, "Saturday 4 April 2026 at 08:15"),
        ("Australia/Sydney", datetime.datetime(2026, 4, 6, 8, 15), 10, "Monday 6 April 2026 at 08:15"),
    ],
)
def test_it_names_the_local_date_and_time_in_the_email_and_the_ics_across_a_clock_change(
    riverside, patient: Patient, nurse: User, smtp: SmtpSink, zone: str, local, utc_offset: int, said: str
) -> None:
    riverside.time_zone = zone
    riverside.save()
    starts_at = local.replace(tzinfo=ZoneInfo(zone))
    assert starts_at.utcoffset() == datetime.timedelta(hours=utc_offset)
    appointment = book(patient, starts_at, by=nurse)

    appointment_notice_queue(appointment=appointment, change="booked", now=NOW, enqueue=False)
    beat.reminders_send_now(now=NOW)

    (message,) = smtp.received()
    assert message["Subject"] == f"Riverside Clinic: your injection appointment is booked for {said}"
    text, html, calendar = parts(message)
    utc_clock = f"{starts_at.astimezone(datetime.UTC):%H:%M}"
    for body in (text, html):
        assert said in body and "Ada" in body
        assert "020 7946 0000" in body and "1 River Lane, London" in body
        if utc_offset:
            assert utc_clock not in body  # never UTC
    assert calendar["METHOD"] == "REQUEST"
    event = event_of(calendar)
    assert event["DTSTART"].dt == starts_at and event["DTSTART"].dt.replace(tzinfo=None) == local
    assert event["DTSTART"].params["TZID"] == zone and str(event["DTSTART"].dt.tzinfo) == zone
    assert event["DTSTART"].dt.utcoffset() == datetime.timedelta(hours=utc_offset)
    assert event["DTEND"].dt - event["DTSTART"].dt == datetime.timedelta(minutes=15)
    assert event["DTSTAMP"].dt.utcoffset() == datetime.timedelta(0)  # RFC 5545: DTSTAMP in UTC
    (timezone,) = calendar.walk("VTIMEZONE")
    assert timezone["TZID"] == zone
    # The VTIMEZONE alone gives the right offset (a client without the tz database reads this).
    assert timezone.to_tz().utcoffset(local) == datetime.timedelta(hours=utc_offset)
    assert str(event["UID"]) == f"{appointment.uid}@localhost"
    assert event["SEQUENCE"] == 0 and event["STATUS"] == "CONFIRMED"
    assert str(event["SUMMARY"]) == "Appointment at Riverside Clinic"
    assert str(event["ORGANIZER"]) == "mailto:bookings@riverside.example"
    assert event["ORGANIZER"].params["CN"] == "Riverside Clinic"
    assert str(event["ATTENDEE"]) == "mailto:ada@example.org"
    assert str(event["LOCATION"]) == "1 River Lane, London"
    assert message["Message-ID"] == Reminder.objects.get(channel=Channel.EMAIL).message_id


# One notice per version; an update; a cancellation ----------------------------------------------


def test_it_sends_one_notice_per_version_then_an_update_then_a_cancellation(
    riverside, patient: Patient, nurse: User, smtp: SmtpSink
) -> None:
    appointment = book(patient, datetime.datetime(2026, 3, 27, 9, 0, tzinfo=LONDON), by=nurse)
    for _ in range(2):  # the action retried, the scan run twice: one email
        appointment_notice_queue(appointment=appointment, change="booked", now=NOW, enqueue=False)
        beat.reminders_send_now(now=NOW)
    assert len(smtp.received()) == 1

    # Moved across the clock change: 09:00 GMT on Friday 27 March to 09:00 BST on Tuesday 31 March.
    later = NOW + datetime.timedelta(hours=1)
    reschedule(appointment, datetime.datetime(2026, 3, 31, 9, 0, tzinfo=LONDON))
    for _ in range(2):
        appointment_notice_queue(appointment=appointment, change="rescheduled", now=later, enqueue=False)
        beat.reminders_send_now(now=later)
    cancel(appointment)
    for _ in range(2):
        appointment_notice_queue(appointment=appointment, change="cancelled", now=later, enqueue=False)
        beat.reminders_send_now(now=later)

    booked, moved, cancelled = smtp.received()
    assert moved["Subject"] == (
        "Riverside Clinic: your injection appointment has moved to Tuesday 31 March 2026 at 09:00"
    )
    assert cancelled["Subject"] == (
        "Riverside Clinic: your injection appointment on Tuesday 31 March 2026 at 09:00 is cancelled"
    )
    calendars = [parts(message)[2] for message in (booked, moved, cancelled)]
    events = [event_of(calendar) for calendar in calendars]
    assert [c["METHOD"] for c in calendars] == ["REQUEST", "REQUEST", "CANCEL"]
    assert {str(e["UID"]) for e in events} == {f"{appointment.uid}@localhost"}  # the same event, updated
    assert [e["SEQUENCE"] for e in events] == [0, 1, 2]
    assert [e["STATUS"] for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert [e["DTSTART"].dt for e in events] == [
        datetime.datetime(2026, 3, 27, 9, 0, tzinfo=LONDON),
        datetime.datetime(2026, 3, 31, 9, 0, tzinfo=LONDON),
        datetime.datetime(2026, 3, 31, 9, 0, tzinfo=LONDON),
    ]
    assert [e["DTSTART"].dt.utcoffset().seconds // 3600 for e in events] == [0, 1, 1]
    rows = Reminder.objects.filter(appointment=appointment).order_by("sequence")
    assert [(r.kind, r.sequence, r.status, r.channel) for r in rows] == [
        (Kind.APPOINTMENT_BOOKED, 0, Status.SENT, Channel.EMAIL),
        (Kind.APPOINTMENT_RESCHEDULED, 1, Status.SENT, Channel.EMAIL),
        (Kind.APPOINTMENT_CANCELLED, 2, Status.SENT, Channel.EMAIL),
    ]
    assert [m["Message-ID"] for m in (booked, moved, cancelled)] == [r.message_id for r in rows]


def test_a_change_before_the_notice_went_replaces_it(riverside, patient: Patient, nurse: User, smtp: SmtpSink) -> None:
    appointment = book(patient, datetime.datetime(2026, 3, 27, 9, 0, tzinfo=LONDON), by=nurse)
    first = appointment_notice_queue(appointment=appointment, change="booked", now=NOW, enqueue=False)
    reschedule(appointment, datetime.datetime(2026, 3, 27, 11, 0, tzinfo=LONDON))
    second = appointment_notice_queue(appointment=appointment, change="rescheduled", now=NOW, enqueue=False)

    superseded = Reminder.objects.get(pk=first[0])
    assert (superseded.status, superseded.reason) == (Status.CANCELLED, "superseded")
    assert ReminderEvent.objects.filter(reminder=superseded, status=Status.CANCELLED).exists()
    replacement = Reminder.objects.get(pk=second[0])
    # The patient never heard of 09:00: they are told of the booking at 11:00, version 1.
    assert (replacement.kind, replacement.sequence) == (Kind.APPOINTMENT_BOOKED, 1)
    beat.reminders_send_now(now=NOW)
    (message,) = smtp.received()
    assert "is booked for Friday 27 March 2026 at 11:00" in message["Subject"]
    assert event_of(parts(message)[2])["SEQUENCE"] == 1

    # A booking cancelled before anything was sent about it: nothing to tell.
    other = book(patient, datetime.datetime(2026, 4, 2, 9, 0, tzinfo=LONDON), by=nurse, kind="recheck")
    (pending,) = appointment_notice_queue(appointment=other, change="booked", now=NOW, enqueue=False)
    cancel(other)
    assert appointment_notice_queue(appointment=other, change="cancelled", now=NOW, enqueue=False) == []
    assert Reminder.objects.get(pk=pending).status == Status.CANCELLED
    beat.reminders_send_now(now=NOW)
    assert len(smtp.received()) == 1


def test_it_queues_the_email_after_commit_inside_the_send_window_only(
    riverside, patient: Patient, nurse: User, django_capture_on_commit_callbacks
) -> None:
    appointment = book(patient, datetime.datetime(2026, 3, 27, 9, 0, tzinfo=LONDON), by=nurse)
    with django_capture_on_commit_callbacks() as callbacks:
        (pk,) = appointment_notice_queue(appointment=appointment, change="booked", now=NOW)
    assert len(callbacks) == 1 and Reminder.objects.get(pk=pk).enqueued_at == NOW

    late = NOW.replace(hour=21)  # after the 20:00 end of the window: the morning's scan sends it
    reschedule(appointment, datetime.datetime(2026, 3, 27, 10, 0, tzinfo=LONDON))
    with django_capture_on_commit_callbacks() as callbacks:
        (pk,) = appointment_notice_queue(appointment=appointment, change="rescheduled", now=late)
    assert callbacks == [] and Reminder.objects.get(pk=pk).enqueued_at is None


def test_it_refuses_an_unknown_change(riverside, patient: Patient, nurse: User) -> None:
    appointment = book(patient, datetime.datetime(2026, 3, 27, 9, 0, tzinfo=LONDON), by=nurse)
    with pytest.raises(ValueError, match="change must be one of"):
        appointment_notice_queue(appointment=appointment, change="moved", now=NOW)  # type: ignore[arg-type]
    assert not Reminder.objects.exists()


def test_it_queues_nothing_when_the_clinic_turned_reminders_off(riverside, patient: Patient, nurse: User) -> None:
    config = ReminderSettings.load()
    config.enabled = False
    config.save()
    appointment = book(patient, datetime.datetime(2026, 3, 27, 9, 0, tzinfo=LONDON), by=nurse)
    assert appointment_notice_queue(appointment=appointment, change="booked", now=NOW) == []


# Consent -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "reason", "letter"),
    [
        # Consent needs an address (patients.services), so no address is no consent.
        ("no email", "no consent to email reminders", True),
        ("no consent", "no consent to email reminders", True),
        ("opted out", "opted out", True),
        ("discharged", "discharged", False),
    ],
)
def test_a_patient_who_may_not_be_emailed_gets_a_letter_instead(
    riverside, make_patient: Callable[..., Patient], nurse: User, smtp: SmtpSink, case: str, reason: str, letter: bool
) -> None:
    email = "" if case == "no email" else "ada@example.org"
    patient = make_patient(email=email, email_reminders_consent=case not in ("no email", "no consent"))
    if case == "opted out":
        patient_actions.patient_set_email_consent(patient=patient, consent=False, by=nurse)
    if case == "discharged":
        patient_actions.patient_discharge(patient=patient, by=nurse)
    patient.refresh_from_db()
    appointment = book(patient, datetime.datetime(2026, 3, 27, 9, 0, tzinfo=LONDON), by=nurse)
    appointment_notice_queue(appointment=appointment, change="booked", now=NOW, enqueue=False)
    beat.reminders_send_now(now=NOW)

    assert smtp.received() == []
    email = Reminder.objects.get(appointment=appointment, channel=Channel.EMAIL)
    assert (email.status, email.reason) == (Status.SKIPPED, reason)
    letters = Reminder.objects.filter(appointment=appointment, channel=Channel.LETTER)
    assert [(r.status, r.kind, r.sequence) for r in letters] == (
        [(Status.PENDING, Kind.APPOINTMENT_BOOKED, 0)] if letter else []
    )


def test_opting_out_stops_the_waiting_emails_not_the_letters(riverside, patient: Patient, nurse: User) -> None:
    appointment = book(patient, datetime.datetime(2026, 3, 27, 9, 0, tzinfo=LONDON), by=nurse)
    (email,) = appointment_notice_queue(appointment=appointment, change="booked", now=NOW, enqueue=False)
    letter = Reminder.objects.create(
        patient=patient,
        kind=Kind.INJECTION_DUE_SOON,
        due_date=NOW.date(),
        channel=Channel.LETTER,
        next_attempt_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    outbox.patient_unsubscribe(patient=patient, now=NOW)
    assert Reminder.objects.get(pk=email).status == Status.SKIPPED
    assert Reminder.objects.get(pk=letter.pk).status == Status.PENDING
    # The email scan never takes a letter.
    assert letter.pk not in outbox.reminders_scan(now=NOW, enqueue=False).due_ids


# The due-soon reminder names the booked appointment ----------------------------------------------


@pytest.mark.parametrize(
    ("booking", "subject"),
    [
        (None, "Riverside Clinic: your injection appointment is due on Monday 23 March 2026"),
        (
            ("injection", datetime.datetime(2026, 3, 23, 14, 45)),
            "Riverside Clinic: your injection appointment is on Monday 23 March 2026 at 14:45",
        ),
        # A blood test booked says nothing about the injection.
        (("recheck", datetime.datetime(2026, 3, 23, 14, 45)), None),
        # An appointment already past (not yet marked missed) is not named.
        (("injection", datetime.datetime(2026, 3, 20, 9, 0)), None),
    ],
)
def test_the_due_soon_reminder_names_the_booked_appointment(
    riverside, due_patient: Callable[..., Patient], nurse: User, smtp: SmtpSink, booking, subject: str | None
) -> None:
    patient = due_patient(datetime.date(2026, 3, 23), given_name="Ada")
    if booking:
        book(patient, booking[1].replace(tzinfo=LONDON), by=nurse, kind=booking[0])
    beat.reminders_send_now(now=NOW)
    (message,) = smtp.received()
    expected = subject or "Riverside Clinic: your injection appointment is due on Monday 23 March 2026"
    assert message["Subject"] == expected
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert expected.split(" on ", 1)[1] in text
    assert not [part for part in message.walk() if part.get_content_type() == "text/calendar"]


def test_one_reminder_per_appointment_despite_a_reschedule(
    riverside, due_patient: Callable[..., Patient], nurse: User, smtp: SmtpSink
) -> None:
    patient = due_patient(datetime.date(2026, 3, 23), given_name="Ada")
    appointment = book(patient, datetime.datetime(2026, 3, 23, 9, 0, tzinfo=LONDON), by=nurse)
    appointment_notice_queue(appointment=appointment, change="booked", now=NOW, enqueue=False)
    beat.reminders_send_now(now=NOW)
    booked, reminder = sorted(smtp.received(), key=lambda m: "booked for" not in m["Subject"])
    assert "is booked for Monday 23 March 2026 at 09:00" in booked["Subject"]
    assert reminder["Subject"] == "Riverside Clinic: your injection appointment is on Monday 23 March 2026 at 09:00"

    later = NOW + datetime.timedelta(days=1)
    reschedule(appointment, datetime.datetime(2026, 3, 23, 15, 0, tzinfo=LONDON))
    appointment_notice_queue(appointment=appointment, change="rescheduled", now=later, enqueue=False)
    for minutes in (0, 5, 10):
        beat.reminders_send_now(now=later + datetime.timedelta(minutes=minutes))

    assert len(smtp.received()) == 3  # the update only: the due-soon reminder is not sent again
    assert "has moved to Monday 23 March 2026 at 15:00" in smtp.received()[2]["Subject"]
    assert Reminder.objects.filter(patient=patient, kind=Kind.INJECTION_DUE_SOON).count() == 1


def test_a_cancellation_follows_a_notice_that_was_being_sent(riverside, patient: Patient, nurse: User) -> None:
    appointment = book(patient, datetime.datetime(2026, 3, 27, 9, 0, tzinfo=LONDON), by=nurse)
    (booked,) = appointment_notice_queue(appointment=appointment, change="booked", now=NOW, enqueue=False)
    assert outbox.claim(Reminder, booked, NOW)  # a worker is sending it: the patient may have it
    cancel(appointment)
    (cancelled,) = appointment_notice_queue(appointment=appointment, change="cancelled", now=NOW, enqueue=False)
    row = Reminder.objects.get(pk=cancelled)
    assert (row.kind, row.sequence, row.status) == (Kind.APPOINTMENT_CANCELLED, 1, Status.PENDING)
    assert Reminder.objects.get(pk=booked).status == Status.SENDING  # not cancelled under the worker
