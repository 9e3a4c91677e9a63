"""Printed letters for patients who may not be emailed: who gets one, what the PDF says (read back with
pypdf: the patient, the appointment in the clinic's time zone, Polish and German names, nothing
clinical), printing once with a history, and the staff page (permission, clinic scoping, access log)."""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pypdf
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from accounts import roles
from accounts.models import Clinic
from audit.models import AccessEvent
from clinic import actions as patient_actions
from outreach.models import Appointment
from patients.models import Patient
from reminders import beat, letters
from reminders.appointments import appointment_notice_queue
from reminders.models import Channel, Kind, Reminder, ReminderEvent, Status
from tests.reminders.conftest import SmtpSink, set_due
from tests.reminders.test_zz_every_message import FORBIDDEN

pytestmark = pytest.mark.django_db

WARSAW = ZoneInfo("Europe/Warsaw")
# Monday 30 March 2026, 10:00 in London (the clocks went forward on Sunday, in Warsaw too).
NOW = datetime.datetime(2026, 3, 30, 10, 0, tzinfo=ZoneInfo("Europe/London"))
TODAY = NOW.date()


@pytest.fixture
def lodz(settings, nurse: User) -> Clinic:
    """The nurse's clinic, in Łódź: its own time zone and letterhead."""
    settings.CLINIC_EMAIL_NAME = "Your clinic"
    clinic = nurse.clinics.get()
    clinic.name, clinic.time_zone = "Przychodnia Śródmieście", "Europe/Warsaw"
    clinic.address = "ul. Piotrkowska 12\n90-001 Łódź"
    clinic.phone, clinic.email = "+48 42 123 45 67", "rejestracja@example.pl"
    clinic.save()
    return clinic


@pytest.fixture
def south(db: None) -> Clinic:
    return Clinic.objects.create(name="South clinic", slug="south")


def no_email(make_patient: Callable[..., Patient], due: datetime.date | None, **values) -> Patient:
    """A patient without an email address (so without consent), due for an injection on `due`."""
    patient = make_patient(email="", email_reminders_consent=False, **values)
    set_due(patient, injection=due)
    return patient


def book(patient: Patient, at: datetime.datetime, *, by: User, kind: str = "injection") -> Appointment:
    return Appointment.objects.create(
        patient=patient, kind=kind, starts_at=at, booked_by=by, booked_at=NOW, updated_at=NOW
    )


def pages_of(pdf: bytes) -> list[str]:
    """Each page's text, lines joined (a sentence may wrap)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def print_all(nurse: User, now: datetime.datetime = NOW) -> letters.Printed:
    waiting = letters.letters_waiting(clinics=nurse.clinics.all())
    return letters.letters_print(letter_ids=[r.pk for r in waiting], clinics=nurse.clinics.all(), by=nurse, now=now)


# Who gets a letter --------------------------------------------------------------------------------


def test_patients_who_may_not_be_emailed_get_a_letter_and_the_others_an_email(
    lodz: Clinic, make_patient: Callable[..., Patient], nurse: User, smtp: SmtpSink
) -> None:
    due = TODAY + datetime.timedelta(days=2)
    without_email = no_email(make_patient, due, family_name="Wiśniewska")
    no_consent = make_patient(family_name="Nowak", email="nowak@example.pl", email_reminders_consent=False)
    opted_out = make_patient(family_name="Müller", email="muller@example.de", email_reminders_consent=True)
    patient_actions.patient_set_email_consent(patient=opted_out, consent=False, by=nurse)
    emailed = make_patient(family_name="Kowalski", email="kowalski@example.pl", email_reminders_consent=True)
    discharged = no_email(make_patient, None, family_name="Zieliński")
    patient_actions.patient_discharge(patient=discharged, by=nurse)
    for patient in (no_consent, opted_out, emailed, discharged):
        set_due(patient, injection=due)

    for minutes in (0, 5):  # two ticks: one letter each
        beat.reminders_send_now(now=NOW + datetime.timedelta(minutes=minutes))

    letter_rows = Reminder.objects.filter(channel=Channel.LETTER)
    assert sorted(r.patient.family_name for r in letter_rows) == ["Müller", "Nowak", "Wiśniewska"]
    assert {(r.kind, r.due_date, r.status) for r in letter_rows} == {(Kind.INJECTION_DUE_SOON, due, Status.PENDING)}
    assert [m["To"] for m in smtp.received()] == ["kowalski@example.pl"]
    assert not Reminder.objects.filter(patient=emailed, channel=Channel.LETTER).exists()
    assert not Reminder.objects.filter(patient=discharged).exclude(status=Status.SKIPPED).exists()
    for row in letter_rows:
        assert list(row.events.values_list("status", flat=True)) == [Status.PENDING]
    assert without_email.pk in {r.patient_id for r in letter_rows}


def test_a_stale_skipped_reminder_gets_no_letter(lodz: Clinic, make_patient: Callable[..., Patient]) -> None:
    patient = no_email(make_patient, TODAY + datetime.timedelta(days=1))
    beat.reminders_send_now(now=NOW)
    Reminder.objects.filter(channel=Channel.LETTER).delete()
    # Three days later the skipped email row is older than the lookback, and the due date has passed.
    assert letters.letters_create(now=NOW + datetime.timedelta(days=3)) == 0
    assert letters.letters_create(now=NOW) == 1
    assert Reminder.objects.get(channel=Channel.LETTER).patient == patient


# The PDF ------------------------------------------------------------------------------------------


def test_the_batch_names_each_patient_and_their_appointment_in_the_clinic_time_zone(
    lodz: Clinic, make_patient: Callable[..., Patient], nurse: User
) -> None:
    # 09:30 in Warsaw on Tuesday 31 March is 07:30 UTC (summer time since Sunday) and 08:30 in London.
    zofia = no_email(make_patient, None, given_name="Zofia", family_name="Wiśniewska")
    appointment = book(zofia, datetime.datetime(2026, 3, 31, 9, 30, tzinfo=WARSAW), by=nurse)
    appointment_notice_queue(appointment=appointment, change="booked", now=NOW)
    hans = no_email(make_patient, TODAY + datetime.timedelta(days=3), given_name="Hans", family_name="Müller")
    jerzy = no_email(make_patient, TODAY + datetime.timedelta(days=2), given_name="Jerzy", family_name="Łukasik")
    book(jerzy, datetime.datetime(2026, 4, 1, 14, 0, tzinfo=WARSAW), by=nurse)
    late = no_email(make_patient, TODAY - datetime.timedelta(days=3), given_name="Anna", family_name="Dąbrowska")
    beat.reminders_send_now(now=NOW)

    printed = print_all(nurse)

    assert printed.pdf.startswith(b"%PDF-")
    pages = {letter.patient_id: text for letter, text in zip(printed.letters, pages_of(printed.pdf), strict=True)}
    assert set(pages) == {zofia.pk, hans.pk, jerzy.pk, late.pk}  # one page each
    for text in pages.values():
        assert "Przychodnia Śródmieście" in text and "ul. Piotrkowska 12" in text and "90-001 Łódź" in text
        assert "Telephone +48 42 123 45 67" in text and "Monday 30 March 2026" in text
        found = FORBIDDEN.search(text)
        assert found is None, f"{found.group(0)!r} in a letter: {text}"
    assert "Zofia Wiśniewska" in pages[zofia.pk] and "Dear Zofia," in pages[zofia.pk]
    assert "injection appointment is booked for Tuesday 31 March 2026 at 09:30" in pages[zofia.pk]
    assert "07:30" not in pages[zofia.pk] and "08:30" not in pages[zofia.pk]  # neither UTC nor London
    assert "Hans Müller" in pages[hans.pk]
    assert "injection appointment is due on Thursday 2 April 2026" in pages[hans.pk]
    assert "Jerzy Łukasik" in pages[jerzy.pk]
    assert "reminder of your injection appointment on Wednesday 1 April 2026 at 14:00" in pages[jerzy.pk]
    assert "Anna Dąbrowska" in pages[late.pk] and "was due on Friday 27 March 2026" in pages[late.pk]


@pytest.mark.parametrize(
    ("name", "letterhead"),
    [
        ("North clinic", "North clinic"),
        ("Przychodnia Śródmieście", "Przychodnia Śródmieście"),
        # The install's product name names the condition: the letters use the emails' name.
        ("B12 Clinic", "Your clinic"),
        ("b12 clinic ", "Your clinic"),
    ],
)
def test_the_letterhead_never_carries_the_product_name(settings, name: str, letterhead: str) -> None:
    settings.CLINIC_NAME, settings.CLINIC_EMAIL_NAME = "B12 Clinic", "Your clinic"
    assert letters.letterhead_name(Clinic(name=name)) == letterhead


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        ("booked", "Your blood test is booked for Tuesday 31 March 2026 at 09:30."),
        ("rescheduled", "Your blood test has moved. It is now on Tuesday 31 March 2026 at 09:30."),
        ("cancelled", "Your blood test on Tuesday 31 March 2026 at 09:30 has been cancelled."),
    ],
)
def test_each_appointment_notice_has_its_letter(
    lodz: Clinic, make_patient: Callable[..., Patient], nurse: User, change: str, sentence: str
) -> None:
    patient = no_email(make_patient, None)
    appointment = book(patient, datetime.datetime(2026, 3, 31, 9, 30, tzinfo=WARSAW), by=nurse, kind="recheck")
    if change != "booked":  # the patient was told of the booking first
        appointment_notice_queue(appointment=appointment, change="booked", now=NOW)
        print_all(nurse)
        appointment.sequence = 1
        appointment.save()
    appointment_notice_queue(appointment=appointment, change=change, now=NOW)  # type: ignore[arg-type]
    (letter,) = letters.letters_waiting(clinics=[lodz])
    content = letters.letter_content(letter, now=NOW)
    assert content.paragraphs[0].replace("**", "") == sentence
    assert content.salutation == "Dear Alice," and content.reference == f"Our reference: {patient.mrn}"


# Printing ----------------------------------------------------------------------------------------


def test_printing_marks_each_letter_sent_once_and_a_reprint_is_the_same_letters(
    lodz: Clinic, make_patient: Callable[..., Patient], nurse: User
) -> None:
    for name in ("Wiśniewska", "Müller"):
        no_email(make_patient, TODAY + datetime.timedelta(days=1), family_name=name)
    beat.reminders_send_now(now=NOW)
    ids = [r.pk for r in letters.letters_waiting(clinics=[lodz])]

    first = letters.letters_print(letter_ids=ids, clinics=[lodz], by=nurse, now=NOW)
    again = letters.letters_print(letter_ids=ids, clinics=[lodz], by=nurse, now=NOW)  # a second click

    assert len(first.letters) == 2 and again.letters == [] and again.pdf == b""
    for row in Reminder.objects.filter(pk__in=ids):
        assert (row.status, row.sent_at, row.attempts) == (Status.SENT, NOW, 1)
        assert row.events.filter(status=Status.SENT, note="printed by nina").count() == 1
    assert letters.letters_waiting(clinics=[lodz]) == []
    reprinted = letters.letters_printed(clinics=[lodz], day=TODAY)
    assert pages_of(letters.letters_pdf(reprinted)) == pages_of(first.pdf)


def test_a_letter_is_withdrawn_when_the_patient_was_emailed_instead(
    lodz: Clinic, make_patient: Callable[..., Patient], nurse: User, smtp: SmtpSink
) -> None:
    patient = no_email(make_patient, TODAY + datetime.timedelta(days=1))
    beat.reminders_send_now(now=NOW)
    patient_actions.patient_update_contact(
        patient=patient, email="late@example.pl", phone="", email_reminders_consent=True, by=nurse
    )
    beat.reminders_send_now(now=NOW + datetime.timedelta(minutes=5))  # the scan emails it after all
    assert len(smtp.received()) == 1

    printed = print_all(nurse, NOW + datetime.timedelta(minutes=10))
    assert (printed.letters, printed.withdrawn) == ([], 1)
    letter = Reminder.objects.get(channel=Channel.LETTER)
    assert (letter.status, letter.reason) == (Status.CANCELLED, "emailed instead")
    assert ReminderEvent.objects.filter(reminder=letter, note="emailed instead").exists()


# The page -------------------------------------------------------------------------------------------


def _login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def two_clinics_letters(lodz: Clinic, south: Clinic, make_patient: Callable[..., Patient], nurse: User) -> dict:
    ours = no_email(
        make_patient, TODAY + datetime.timedelta(days=1), given_name="Zofia", family_name="Wiśniewska", clinic=lodz
    )
    theirs = no_email(make_patient, TODAY + datetime.timedelta(days=1), family_name="Southey", clinic=south, by=None)
    beat.reminders_send_now(now=NOW)
    south_nurse = User.objects.create_user(username="sue", password="pw")
    south_nurse.groups.add(Group.objects.get(name=roles.NURSE))
    south.staff.add(south_nurse)
    return {
        "ours": Reminder.objects.get(patient=ours, channel=Channel.LETTER),
        "theirs": Reminder.objects.get(patient=theirs, channel=Channel.LETTER),
        "south_nurse": south_nurse,
    }


def test_the_page_lists_and_prints_only_the_users_clinic_letters_and_logs_the_read(
    two_clinics_letters: dict, nurse: User
) -> None:
    ours, theirs = two_clinics_letters["ours"], two_clinics_letters["theirs"]
    client = _login(nurse)
    page = client.get("/reminders/letters/")
    assert page.status_code == 200
    assert [r.pk for r in page.context["waiting"]] == [ours.pk]
    assert "Wiśniewska" in page.content.decode() and "Southey" not in page.content.decode()
    read = AccessEvent.objects.filter(kind=AccessEvent.Kind.READ, user=nurse, page="reminders:letters").get()
    assert list(read.patients.values_list("pk", flat=True)) == [ours.patient_id]

    # Another clinic's letter id slipped into the form is not printed.
    response = client.post("/reminders/letters/print/", {"letter": [ours.pk, theirs.pk]})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert re.fullmatch(r'attachment; filename="letters-\d{4}-\d{2}-\d{2}\.pdf"', response["Content-Disposition"])
    (text,) = pages_of(response.content)
    assert "Zofia Wiśniewska" in text
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.status, theirs.status) == (Status.SENT, Status.PENDING)
    printed = AccessEvent.objects.filter(page="reminders:letters_print").get()
    assert list(printed.patients.values_list("pk", flat=True)) == [ours.patient_id]

    # Nothing left: back to the page with a message; the day's batch can be printed again.
    again = client.post("/reminders/letters/print/", {"letter": [ours.pk]})
    assert (again.status_code, again["Location"]) == (302, "/reminders/letters/")
    reprint = client.get("/reminders/letters/printed.pdf")
    assert reprint["Content-Type"] == "application/pdf" and "Zofia Wiśniewska" in pages_of(reprint.content)[0]

    # The South clinic's nurse sees and prints only theirs.
    south = _login(two_clinics_letters["south_nurse"])
    assert [r.pk for r in south.get("/reminders/letters/").context["waiting"]] == [theirs.pk]
    assert south.get("/reminders/letters/printed.pdf").status_code == 302  # none of theirs printed today


def test_the_page_is_refused_to_strangers_and_anonymous_users(
    two_clinics_letters: dict, stranger: User, client: Client
) -> None:
    ours = two_clinics_letters["ours"]
    for url in ("/reminders/letters/", "/reminders/letters/printed.pdf"):
        assert _login(stranger).get(url).status_code == 403
        assert client.get(url).status_code == 302
    assert _login(stranger).post("/reminders/letters/print/", {"letter": [ours.pk]}).status_code == 403
    assert _login(stranger).get("/reminders/letters/print/").status_code in (403, 405)
    ours.refresh_from_db()
    assert ours.status == Status.PENDING
