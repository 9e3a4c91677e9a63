"""The outreach pages: who may open them (the call-centre role sees the list, phone numbers and
appointments, never the chart), the one-click call outcomes and where each leads, booking at the
suggestion in the clinic's time zone, the day view, reschedule and cancel with a reason."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.models import Clinic as Site
from audit.models import AccessEvent
from clinic import actions
from outreach.models import Appointment, ContactAttempt
from tests.outreach.conftest import tomorrow_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(db: None) -> User:
    user = User.objects.create_user(username="pat", password="pw")
    user.groups.add(Group.objects.get(name=roles.PROGRAMME))
    user.clinics.add(Site.objects.get())
    return user


def test_the_call_centre_works_the_list_but_never_opens_the_record(client, clinic, call_centre, notices) -> None:
    patient = clinic.overdue(10, phone="020 7946 0001")
    client.force_login(call_centre)
    assert client.get(reverse("home")).url == reverse("outreach_list")
    page = client.get(reverse("outreach_list"))
    assert page.status_code == 200 and "020 7946 0001" in page.content.decode()
    assert f'href="{reverse("patient_detail", args=[patient.pk])}"' not in page.content.decode()
    for url in [
        reverse("patient_detail", args=[patient.pk]),
        reverse("patient_contact_edit", args=[patient.pk]),
        reverse("injection_create", args=[patient.pk]),
        reverse("decision_create", args=[patient.pk, "interval"]),
        reverse("patient_discharge", args=[patient.pk]),
        reverse("worklist"),
        reverse("dashboard"),
    ]:
        assert client.get(url).status_code == 403, url
    assert client.get(reverse("appointment_book", args=[patient.pk])).status_code == 200
    assert client.get(reverse("appointment_day")).status_code == 200
    assert client.get(reverse("outreach_report")).status_code == 200


def test_the_programme_role_sees_the_report_only(client, clinic, programme) -> None:
    patient = clinic.overdue(10)
    client.force_login(programme)
    assert client.get(reverse("outreach_report")).status_code == 200
    for url in [reverse("outreach_list"), reverse("appointment_book", args=[patient.pk]), reverse("appointment_day")]:
        assert client.get(url).status_code == 403, url


def test_another_clinics_patient_is_not_found(client, clinic, nurse, call_centre) -> None:
    south = Site.objects.create(name="South", slug="south")
    south.staff.add(nurse)  # the nurse registers the patient there; the call centre is not on its staff
    elsewhere = clinic.overdue(10, clinic=south)
    client.force_login(call_centre)
    assert client.get(reverse("outreach_list")).content.decode().count(elsewhere.mrn) == 0
    assert client.get(reverse("appointment_book", args=[elsewhere.pk])).status_code == 404
    assert (
        client.post(reverse("contact_attempt_create", args=[elsewhere.pk]), {"outcome": "no_answer"}).status_code == 404
    )
    assert not ContactAttempt.objects.exists()


def test_the_list_is_in_the_access_log(client, clinic, nurse) -> None:
    listed = [clinic.overdue(10), clinic.overdue(90, family_name="Lost")]
    client.force_login(nurse)
    client.get(reverse("outreach_list"))
    event = AccessEvent.objects.get(kind="read", page="outreach_list")
    assert sorted(p.pk for p in event.patients.all()) == sorted(p.pk for p in listed)


def test_a_wrong_number_is_one_click_and_back_to_the_list(client, clinic, nurse) -> None:
    patient = clinic.overdue(10)
    client.force_login(nurse)
    response = client.post(reverse("contact_attempt_create", args=[patient.pk]), {"outcome": "wrong_number"})
    assert response.url == reverse("outreach_list")
    attempt = ContactAttempt.objects.get()
    assert (attempt.patient, attempt.outcome, attempt.by) == (patient, "wrong_number", nurse)


def test_a_refused_call_names_the_field_and_keeps_what_was_typed(client, clinic, nurse) -> None:
    patient = clinic.overdue(10)
    client.force_login(nurse)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    page = client.post(
        reverse("contact_attempt_create", args=[patient.pk]),
        {"outcome": "no_answer", "note": "rang at noon", "next_attempt_on": yesterday.isoformat()},
    )
    body = page.content.decode()
    assert page.status_code == 200 and "The next attempt must be after today." in body and "rang at noon" in body
    page = client.post(reverse("contact_attempt_create", args=[patient.pk]), {"outcome": ""})
    assert "Choose what came of the call." in page.content.decode()
    assert not ContactAttempt.objects.exists()


def test_reached_and_booked_goes_on_to_the_booking(client, clinic, call_centre) -> None:
    patient = clinic.overdue(10)
    client.force_login(call_centre)
    response = client.post(
        reverse("contact_attempt_create", args=[patient.pk]), {"outcome": "reached_booked", "kind": "recheck"}
    )
    assert response.url == reverse("appointment_book", args=[patient.pk]) + "?kind=recheck"


@pytest.mark.parametrize(("outcome", "label"), [("moved_away", "Moved away"), ("deceased", "Deceased")])
def test_moved_away_and_deceased_lead_a_nurse_to_the_discharge_with_the_reason(
    client, clinic, nurse, outcome, label
) -> None:
    patient = clinic.overdue(10)
    client.force_login(nurse)
    response = client.post(reverse("contact_attempt_create", args=[patient.pk]), {"outcome": outcome})
    assert response.url == reverse("patient_discharge", args=[patient.pk]) + f"?reason={outcome}"
    page = client.get(response.url).content.decode()
    assert f'value="{outcome}"' in page
    form = client.get(response.url).context["form"]
    assert form.initial == {"reason": outcome}
    client.post(response.url, {"reason": outcome})
    patient.refresh_from_db()
    assert (patient.is_active, patient.discharge_reason) == (False, outcome)


def test_the_call_centre_leaves_the_discharge_to_a_nurse(client, clinic, call_centre) -> None:
    patient = clinic.overdue(10)
    client.force_login(call_centre)
    response = client.post(reverse("contact_attempt_create", args=[patient.pk]), {"outcome": "deceased"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("outreach_list")
    assert "waits on the outreach list for a nurse" in response.content.decode()
    patient.refresh_from_db()
    assert patient.is_active


def test_booking_suggests_the_least_busy_day_skipping_a_full_one(client, clinic, clinic_admin, nurse, notices) -> None:
    site = Site.objects.get()
    every_day = dict.fromkeys(range(7), 1)
    actions.clinic_capacity_set(clinic=site, appointments=every_day, by=clinic_admin)
    patient = clinic.overdue(10)
    # Tomorrow is full (one place, one booked): the suggestion is the day after, at 09:00.
    actions.appointment_book(
        patient=clinic.overdue(12, family_name="Early"), kind="injection", starts_at=tomorrow_at(9), by=nurse
    )
    client.force_login(nurse)
    page = client.get(reverse("appointment_book", args=[patient.pk]))
    suggestion = page.context["suggestion"]
    day_after = timezone.localdate() + datetime.timedelta(days=2)
    assert (suggestion.day, suggestion.time) == (day_after, datetime.time(9, 0))
    assert page.context["form"].initial["day"] == day_after
    assert [load.full for load in suggestion.loads][:2] == [True, False]


def test_booking_reads_the_day_and_time_at_the_clinic(client, clinic, nurse, notices) -> None:
    site = Site.objects.get()
    site.time_zone = "America/New_York"
    site.save()
    patient = clinic.overdue(10)
    day = timezone.localdate() + datetime.timedelta(days=3)
    client.force_login(nurse)
    response = client.post(
        reverse("appointment_book", args=[patient.pk]), {"kind": "injection", "day": day.isoformat(), "time": "10:00"}
    )
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.starts_at == datetime.datetime.combine(
        day, datetime.time(10), tzinfo=zoneinfo.ZoneInfo("America/New_York")
    )
    assert notices.changes() == [(appointment.pk, "booked")]
    page = client.get(reverse("appointment_day") + f"?day={day.isoformat()}").content.decode()
    assert ">10:00<" in page and patient.full_name in page and "America/New_York" in page


def test_a_booking_in_the_past_is_refused_on_the_day_field(client, clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    client.force_login(nurse)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    page = client.post(
        reverse("appointment_book", args=[patient.pk]),
        {"kind": "injection", "day": yesterday.isoformat(), "time": "10:00"},
    )
    assert page.status_code == 200 and page.context["form"].errors == {
        "day": ["The appointment must be in the future."]
    }
    assert not Appointment.objects.exists()


def test_the_day_view_shows_who_is_booked_who_came_and_who_did_not(client, clinic, nurse, notices) -> None:
    came = clinic.overdue(10, family_name="Came")
    missed = clinic.overdue(11, family_name="Missed")
    booked = clinic.overdue(12, family_name="Booked")
    now = timezone.now()
    for patient in (came, missed, booked):
        actions.appointment_book(
            patient=patient, kind="injection", starts_at=now + datetime.timedelta(minutes=5), by=nurse
        )
    clinic.inject(came, timezone.localdate())
    Appointment.objects.filter(patient=missed).update(status="missed")
    client.force_login(nurse)
    page = client.get(reverse("appointment_day"))
    [day] = page.context["days"]
    assert ([a.patient for a in day.booked], [a.patient for a in day.attended], [a.patient for a in day.missed]) == (
        [booked],
        [came],
        [missed],
    )
    body = page.content.decode()
    assert "Came</span>" in body and "Did not come" in body
    event = AccessEvent.objects.get(kind="read", page="appointment_day")
    assert {p.pk for p in event.patients.all()} == {came.pk, missed.pk, booked.pk}


def test_reschedule_and_cancel_need_a_reason(client, clinic, nurse, notices) -> None:
    patient = clinic.overdue(10)
    appointment = actions.appointment_book(patient=patient, kind="injection", starts_at=tomorrow_at(10), by=nurse)
    client.force_login(nurse)
    url = reverse("appointment_reschedule", args=[appointment.pk])
    day = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    page = client.post(url, {"day": day, "time": "11:00", "reason": ""})
    assert page.context["form"].errors == {"reason": ["Say why: the reason is kept with the appointment."]}
    assert 'value="11:00"' in page.content.decode()
    assert client.post(url, {"day": day, "time": "11:00", "reason": "Clash"}).status_code == 302
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.sequence, appointment.status_reason) == (
        tomorrow_at(11, days=2),
        1,
        "Clash",
    )
    cancel = reverse("appointment_cancel", args=[appointment.pk])
    assert client.post(cancel, {"reason": ""}).context["form"].errors == {
        "reason": ["Say why: the reason is kept with the appointment."]
    }
    client.post(cancel, {"reason": "Feels well"})
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    assert notices.changes() == [(appointment.pk, c) for c in ("booked", "rescheduled", "cancelled")]


def test_a_clinic_admin_sets_the_capacity_in_the_admin(client, clinic_admin, nurse) -> None:
    site = Site.objects.get()
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:outreach_cliniccapacity_add"), {"clinic": site.pk, "weekday": 2, "appointments": 5}
    )
    assert response.status_code == 302
    assert dict(site.capacities.values_list("weekday", "appointments")) == {2: 5}
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        actions.clinic_capacity_set(clinic=site, appointments={2: 9}, by=nurse)
