"""The booking actions and the appointment notices together (no spy on the seam): booking, moving and
cancelling an appointment through clinic.actions leaves one email a version for a patient who may be
emailed, each sent with the same invitation UID and a rising SEQUENCE; a patient without email gets
letters instead."""

from __future__ import annotations

import datetime

import icalendar
import pytest
from django.core import mail
from django.utils import timezone

from clinic import actions
from reminders.models import Channel, Reminder, Status
from reminders.outbox import reminder_send
from tests.outreach.conftest import tomorrow_at

pytestmark = pytest.mark.django_db


def sent_invitation(reminder: Reminder, now: datetime.datetime) -> icalendar.Calendar:
    mail.outbox.clear()
    assert reminder_send(reminder_id=reminder.pk, now=now).status == "sent"
    (message,) = mail.outbox
    (ics,) = [part for part in message.message().walk() if part.get_content_type() == "text/calendar"]
    return icalendar.Calendar.from_ical(ics.get_payload(decode=True))


def test_book_move_and_cancel_before_any_was_sent_leave_nothing_to_send(clinic, call_centre, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    patient = clinic.overdue(10, email="zofia@example.org", email_reminders_consent=True)
    now = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(10, 0)))

    appointment = actions.appointment_book(
        patient=patient, kind="injection", starts_at=tomorrow_at(9, 30), by=call_centre, now=now
    )
    actions.appointment_reschedule(
        appointment=appointment, starts_at=tomorrow_at(11, 0), reason="patient asked", by=call_centre, now=now
    )
    actions.appointment_cancel(appointment=appointment, reason="moved away", by=call_centre, now=now)

    # The patient never heard of the booking, so the move is a booking of the new time; and the
    # cancellation of a booking never sent sends nothing: every version waits no longer.
    notices = list(Reminder.objects.filter(appointment=appointment, channel=Channel.EMAIL).order_by("sequence"))
    assert [(n.kind, n.sequence, n.status) for n in notices] == [
        ("appointment_booked", 0, Status.CANCELLED),
        ("appointment_booked", 1, Status.CANCELLED),
    ]
    assert not Reminder.objects.filter(patient=patient, channel=Channel.LETTER).exists()


def test_a_move_after_the_booking_was_sent_is_an_update_of_the_same_invitation(clinic, call_centre, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    patient = clinic.overdue(10, email="zofia@example.org", email_reminders_consent=True)
    now = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(10, 0)))
    appointment = actions.appointment_book(
        patient=patient, kind="injection", starts_at=tomorrow_at(9, 30), by=call_centre, now=now
    )
    booked = sent_invitation(Reminder.objects.get(appointment=appointment, sequence=0, channel=Channel.EMAIL), now)

    actions.appointment_reschedule(
        appointment=appointment, starts_at=tomorrow_at(11, 0), reason="patient asked", by=call_centre, now=now
    )
    moved = sent_invitation(Reminder.objects.get(appointment=appointment, sequence=1, channel=Channel.EMAIL), now)

    (first,) = booked.walk("VEVENT")
    (second,) = moved.walk("VEVENT")
    assert str(first["UID"]) == str(second["UID"])
    assert str(first["UID"]).startswith(str(appointment.uid))
    assert (int(first["SEQUENCE"]), int(second["SEQUENCE"])) == (0, 1)
    assert (str(booked["METHOD"]), str(moved["METHOD"])) == ("REQUEST", "REQUEST")
    assert second.decoded("DTSTART") == tomorrow_at(11, 0)


def test_a_patient_without_email_gets_a_letter_for_the_booking(clinic, call_centre) -> None:
    patient = clinic.overdue(10)
    assert not patient.email
    appointment = actions.appointment_book(
        patient=patient, kind="injection", starts_at=tomorrow_at(9, 30), by=call_centre
    )
    letter = Reminder.objects.get(appointment=appointment, channel=Channel.LETTER)
    assert (letter.kind, letter.status) == ("appointment_booked", Status.PENDING)
