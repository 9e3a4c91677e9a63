"""The outreach actions (clinic.actions): calls, booking, rescheduling, cancelling, attending, missing,
discharge; each with its refusals, and the appointment notice seam called inside the transaction."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from accounts.models import Clinic as Site
from clinic import actions
from outreach.models import Appointment, ContactAttempt
from tests.outreach.conftest import tomorrow_at
from tests.ui.builders import at, days_ago

pytestmark = pytest.mark.django_db


# Calls -------------------------------------------------------------------------------------------------


def test_it_records_a_call(clinic, call_centre) -> None:
    patient = clinic.overdue(10)
    again = timezone.localdate() + datetime.timedelta(days=2)
    attempt = actions.contact_attempt_record(
        patient=patient, outcome="no_answer", by=call_centre, note=" rang twice ", next_attempt_on=again
    )
    assert (attempt.outcome, attempt.note, attempt.next_attempt_on, attempt.by) == (
        "no_answer",
        "rang twice",
        again,
        call_centre,
    )


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"outcome": "busy"}, "outcome"),
        ({"outcome": ""}, "outcome"),
        ({"outcome": "no_answer", "next_attempt_on": "today"}, "next_attempt_on"),
        ({"outcome": "no_answer", "next_attempt_on": "yesterday"}, "next_attempt_on"),
        ({"outcome": "no_answer", "note": "x" * 1001}, "note"),
    ],
)
def test_it_refuses_a_bad_call_naming_the_field(clinic, nurse, arguments, field) -> None:
    patient = clinic.overdue(10)
    days = {"today": 0, "yesterday": -1}
    if "next_attempt_on" in arguments:
        arguments["next_attempt_on"] = timezone.localdate() + datetime.timedelta(
            days=days[arguments["next_attempt_on"]]
        )
    with pytest.raises(ValidationError) as refused:
        actions.contact_attempt_record(patient=patient, by=nurse, **arguments)
    assert field in refused.value.message_dict
    assert not ContactAttempt.objects.exists()


def test_it_refuses_calls_to_those_without_the_role_and_to_discharged_patients(
    clinic, nurse, stranger, physician
) -> None:
    patient = clinic.overdue(10)
    with pytest.raises(PermissionDenied):
        actions.contact_attempt_record(patient=patient, outcome="no_answer", by=stranger)
    actions.patient_discharge(patient=patient, by=nurse, reason="moved_away")
    with pytest.raises(ValidationError, match="discharged"):
        actions.contact_attempt_record(patient=patient, outcome="no_answer", by=nurse)
    assert not ContactAttempt.objects.exists()


# Booking, rescheduling, cancelling ---------------------------------------------------------------------


def test_booking_rescheduling_and_cancelling_tell_the_patient_in_the_same_transaction(
    clinic, call_centre, notices
) -> None:
    patient = clinic.overdue(10)
    depth = len(connection.atomic_blocks)
    appointment = actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(10), by=call_centre)
    assert (appointment.status, appointment.sequence, appointment.booked_by) == ("booked", 0, call_centre)
    actions.appointment_reschedule(
        appointment=appointment, starts_at=tomorrow_at(11), reason="Asked for later", by=call_centre
    )
    actions.appointment_cancel(appointment=appointment, reason="Going abroad", by=call_centre)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.status_reason, appointment.sequence) == ("cancelled", "Going abroad", 2)
    assert notices.changes() == [
        (appointment.pk, "booked"),
        (appointment.pk, "rescheduled"),
        (appointment.pk, "cancelled"),
    ]
    assert notices.all_inside_a_transaction_deeper_than(depth)


def test_a_reschedule_keeps_the_invitation_and_raises_its_sequence(clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    appointment = actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(10), by=nurse)
    uid = appointment.uid
    actions.appointment_reschedule(appointment=appointment, starts_at=tomorrow_at(9, days=2), reason="Clash", by=nurse)
    appointment.refresh_from_db()
    assert (appointment.uid, appointment.sequence, appointment.starts_at) == (uid, 1, tomorrow_at(9, days=2))
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": "  "}, "reason"),
        ({"starts_at": "past"}, "starts_at"),
        ({"starts_at": None}, "starts_at"),
        ({"starts_at": "same"}, "starts_at"),
    ],
)
def test_it_refuses_a_bad_reschedule_naming_the_field(clinic, nurse, notices, change, field) -> None:
    patient = clinic.overdue(10)
    appointment = actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(10), by=nurse)
    values = {"starts_at": tomorrow_at(12), "reason": "Clash", **change}
    values["starts_at"] = {"past": timezone.now() - datetime.timedelta(hours=1), "same": tomorrow_at(10)}.get(
        values["starts_at"], values["starts_at"]
    )
    with pytest.raises(ValidationError) as refused:
        actions.appointment_reschedule(appointment=appointment, by=nurse, **values)
    assert field in refused.value.message_dict
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.sequence) == (tomorrow_at(10), 0)
    assert notices.changes() == [(appointment.pk, "booked")]


def test_it_refuses_a_cancel_without_a_reason_and_a_change_to_a_cancelled_appointment(clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    appointment = actions.appointment_book(patient=patient, kind="recheck", starts_at=tomorrow_at(10), by=nurse)
    with pytest.raises(ValidationError) as refused:
        actions.appointment_cancel(appointment=appointment, reason="", by=nurse)
    assert "reason" in refused.value.message_dict
    actions.appointment_cancel(appointment=appointment, reason="Declined", by=nurse)
    with pytest.raises(ValidationError, match="cancelled"):
        actions.appointment_reschedule(appointment=appointment, starts_at=tomorrow_at(12), reason="x", by=nurse)
    with pytest.raises(ValidationError, match="cancelled"):
        actions.appointment_cancel(appointment=appointment, reason="again", by=nurse)


def test_it_books_one_appointment_per_kind(clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(10), by=nurse)
    with pytest.raises(ValidationError, match="reschedule it instead"):
        actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(11), by=nurse)
    actions.appointment_book(patient=patient, kind="recheck", starts_at=tomorrow_at(11), by=nurse)
    assert Appointment.objects.filter(status="booked").count() == 2


@pytest.mark.parametrize(
    ("arguments", "field"),
    [({"kind": "massage"}, "kind"), ({"starts_at": None}, "starts_at"), ({"starts_at": "past"}, "starts_at")],
)
def test_it_refuses_a_bad_booking_naming_the_field(clinic, nurse, notices, arguments, field) -> None:
    patient = clinic.overdue(10)
    values = {"kind": "injection", "starts_at": tomorrow_at(10), **arguments}
    if values["starts_at"] == "past":
        values["starts_at"] = timezone.now() - datetime.timedelta(minutes=1)
    with pytest.raises(ValidationError) as refused:
        actions.appointment_book(patient=patient, by=nurse, **values)
    assert field in refused.value.message_dict
    assert not Appointment.objects.exists() and not notices


def test_only_outreach_roles_book(clinic, stranger, notices) -> None:
    with pytest.raises(PermissionDenied):
        actions.appointment_book(patient=clinic.overdue(10), kind="injection", starts_at=tomorrow_at(10), by=stranger)


# Attended and missed -----------------------------------------------------------------------------------


def test_recording_the_injection_marks_the_booked_injection_attended(clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    now = timezone.now()
    injection = actions.appointment_book(
        patient=patient, kind="injection", starts_at=now + datetime.timedelta(hours=1), by=nurse
    )
    recheck = actions.appointment_book(
        patient=patient, kind="recheck", starts_at=now + datetime.timedelta(hours=1), by=nurse
    )
    clinic.inject(patient, timezone.localdate())
    injection.refresh_from_db()
    recheck.refresh_from_db()
    assert (injection.status, recheck.status) == ("attended", "booked")
    clinic.lab(patient, timezone.localdate(), "b12", "300", "pg/mL")
    recheck.refresh_from_db()
    assert recheck.status == "attended"


def test_a_lab_panel_marks_the_booked_recheck_attended(clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    recheck = actions.appointment_book(patient=patient, kind="recheck", starts_at=tomorrow_at(10, days=3), by=nurse)
    actions.lab_panel_record(
        patient=patient,
        collected_on=timezone.localdate(),
        results=[{"analyte": "b12", "value": "300", "unit": "pg/mL"}],
        entered_by=nurse,
    )
    recheck.refresh_from_db()
    assert recheck.status == "attended"


def test_an_injection_long_before_the_appointment_does_not_attend_it(clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    later = actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(10, days=8), by=nurse)
    clinic.inject(patient, timezone.localdate())
    later.refresh_from_db()
    assert later.status == "booked"


def test_the_daily_job_marks_missed_the_appointments_whose_day_passed(clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    other = clinic.overdue(12, family_name="Other")
    zone = timezone.get_current_timezone()
    day = timezone.localdate() + datetime.timedelta(days=1)
    late = actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(23, 30), by=nurse)
    next_day = actions.appointment_book(patient=other, kind="injection", starts_at=tomorrow_at(9, days=2), by=nurse)
    end_of_day = datetime.datetime.combine(day, datetime.time(23, 59), tzinfo=zone)
    assert actions.appointments_mark_missed(now=end_of_day) == 0
    midnight = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(0, 1), tzinfo=zone)
    assert actions.appointments_mark_missed(now=midnight) == 1
    assert actions.appointments_mark_missed(now=midnight) == 0  # idempotent
    late.refresh_from_db()
    next_day.refresh_from_db()
    assert (late.status, late.status_reason, next_day.status) == (
        "missed",
        "The day passed without the visit.",
        "booked",
    )


def test_the_missed_job_reads_each_clinics_own_midnight(clinic, nurse, notices) -> None:
    """Auckland's day ends 11 to 13 hours before London's: at 13:00 UTC an appointment of 09:00
    Auckland time yesterday is missed there, while London's of 09:00 yesterday is too, but London's
    of 09:00 today (local) is not."""
    site = Site.objects.get()
    site.time_zone = "Pacific/Auckland"
    site.save()
    patient = clinic.overdue(10)
    auckland = zoneinfo.ZoneInfo("Pacific/Auckland")
    start = datetime.datetime(2030, 6, 10, 9, 0, tzinfo=auckland)  # 21:00 UTC on 9 June
    appointment = actions.appointment_book(patient=patient, kind="injection", starts_at=start, by=nurse)
    # 11:59 UTC on 10 June is 23:59 in Auckland: still the appointment's day.
    assert actions.appointments_mark_missed(now=datetime.datetime(2030, 6, 10, 11, 59, tzinfo=datetime.UTC)) == 0
    # 12:00 UTC is midnight in Auckland (NZST, UTC+12): the day passed, though London is still at 13:00.
    assert actions.appointments_mark_missed(now=datetime.datetime(2030, 6, 10, 12, 0, tzinfo=datetime.UTC)) == 1
    appointment.refresh_from_db()
    assert appointment.status == "missed"


# Discharge ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "told"), [("moved_away", True), ("deceased", False)])
def test_a_discharge_cancels_the_booked_appointments(clinic, nurse, notices, reason, told) -> None:
    patient = clinic.overdue(10)
    appointment = actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(10), by=nurse)
    actions.patient_discharge(patient=patient, by=nurse, reason=reason)
    appointment.refresh_from_db()
    assert appointment.status == "cancelled" and appointment.status_reason.startswith("Discharged")
    assert ((appointment.pk, "cancelled") in notices.changes()) is told


def test_history_imported_does_not_attend(clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    appointment = actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(10), by=nurse)
    clinic.inject(patient, timezone.localdate(), history=True, given_at=at(days_ago(0)))
    appointment.refresh_from_db()
    assert appointment.status == "booked"
