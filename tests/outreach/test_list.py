"""The outreach list (outreach.selectors.outreach_list): who is on it, in which order, and where a
next attempt date or a reported move puts them; and the chart's timeline of calls and appointments."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Clinic as Site
from clinic import actions
from outreach.selectors import outreach_list
from patients.models import Patient
from tests.outreach.conftest import tomorrow_at

pytestmark = pytest.mark.django_db
EVERY = Site.objects.all()


def names(rows) -> list[str]:
    return [row.patient.family_name for row in rows]


def board():
    return outreach_list(today=timezone.localdate(), clinics=EVERY)


def test_it_lists_overdue_and_lost_patients_most_at_risk_first(clinic, physician) -> None:
    clinic.overdue(20, family_name="Twenty")
    clinic.overdue(90, family_name="Lost")
    neuro = clinic.overdue(5, family_name="Neuro")
    actions.patient_set_clinical_flags(
        patient=neuro,
        neurological_involvement=True,
        pregnancy="none",
        dietary_intake_adequate="unknown",
        by=physician,
        reason="Neuropathy",
    )
    clinic.on_time(family_name="Fine")
    clinic.due_today(family_name="Today")  # due today is the worklist's, not yet overdue
    rows = board().to_call
    assert names(rows) == ["Neuro", "Lost", "Twenty"]
    assert [(row.days_overdue, row.lost) for row in rows] == [(5, False), (90, True), (20, False)]
    assert rows[0].score == 95


def test_a_booked_patient_leaves_the_list_and_a_missed_appointment_brings_them_back(clinic, nurse, notices) -> None:
    fine = clinic.on_time(family_name="Fine")
    over = clinic.overdue(10, family_name="Over")
    actions.appointment_book(patient=over, kind="injection", starts_at=tomorrow_at(10, days=5), by=nurse)
    appointment = actions.appointment_book(patient=fine, kind="recheck", starts_at=tomorrow_at(10), by=nurse)
    assert names(board().to_call) == []
    # Fine's recheck day passes without the visit; Fine is not overdue, but the miss lists them.
    with time_machine.travel(tomorrow_at(8, days=2), tick=False):
        actions.appointments_mark_missed(now=timezone.now())
        [row] = board().to_call
        assert (row.patient, row.missed, row.kind, row.days_overdue) == (fine, appointment, "recheck", 1)
        # A lab drawn since the miss takes the patient off again.
        clinic.lab(fine, timezone.localdate(), "b12", "400", "pg/mL")
        assert names(board().to_call) == []


def test_a_next_attempt_date_moves_the_patient_below_until_that_day(clinic, nurse) -> None:
    waiting = clinic.overdue(30, family_name="Waiting")
    clinic.overdue(10, family_name="Other")
    again = timezone.localdate() + datetime.timedelta(days=3)
    actions.contact_attempt_record(patient=waiting, outcome="reached_call_back", by=nurse, next_attempt_on=again)
    today = board()
    assert (names(today.to_call), names(today.later)) == (["Other"], ["Waiting"])
    assert today.later[0].last_attempt.next_attempt_on == again
    on_the_day = outreach_list(today=again, clinics=EVERY)
    assert names(on_the_day.to_call) == ["Waiting", "Other"]


def test_the_last_call_shows_and_moved_away_waits_for_a_discharge(clinic, nurse) -> None:
    moved = clinic.overdue(30, family_name="Moved")
    called = clinic.overdue(10, family_name="Called")
    actions.contact_attempt_record(patient=called, outcome="no_answer", by=nurse)
    actions.contact_attempt_record(patient=called, outcome="voicemail", by=nurse, note="left a message")
    actions.contact_attempt_record(patient=moved, outcome="moved_away", by=nurse)
    result = board()
    assert names(result.to_discharge) == ["Moved"]
    [row] = result.to_call
    assert (row.last_attempt.outcome, row.attempts) == ("voicemail", 2)
    actions.patient_discharge(patient=moved, by=nurse, reason="moved_away")
    assert board().to_discharge == []


def test_it_lists_only_the_clinics_given(clinic, nurse) -> None:
    clinic.overdue(10)
    other = Site.objects.create(name="South", slug="south")
    assert outreach_list(today=timezone.localdate(), clinics=Site.objects.filter(pk=other.pk)).to_call == []


def test_the_chart_timeline_shows_every_call_and_appointment(client, clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    actions.contact_attempt_record(patient=patient, outcome="wrong_number", by=nurse, note="number unknown")
    actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(10, 30), by=nurse)
    client.force_login(nurse)
    page = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert 'data-kind="contact"' in page and "Wrong number" in page and "number unknown" in page
    assert 'data-kind="appointment"' in page and "Injection at 10:30: booked" in page


def test_the_list_takes_the_same_queries_for_three_patients_as_for_six(clinic, nurse, notices) -> None:
    def queries_with(more: int) -> int:
        for i in range(more):
            patient = clinic.overdue(10 + i, family_name=f"P{Patient.objects.count()}")
            actions.contact_attempt_record(patient=patient, outcome="no_answer", by=nurse)
            actions.appointment_book(patient=patient, kind="recheck", starts_at=tomorrow_at(9 + i), by=nurse)
        with time_machine.travel(tomorrow_at(12, days=2), tick=False):
            actions.appointments_mark_missed(now=timezone.now())
            with CaptureQueriesContext(connection) as queries:
                assert len(board().to_call) == Patient.objects.count()
        return len(queries)

    assert queries_with(3) == queries_with(3)  # six patients the second time, each with a call and a miss
