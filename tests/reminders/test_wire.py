"""The cheaper ways an email is made (reminders.emails) give what Django's gave, byte for byte: the
rendered subject and bodies (templates rendered once per skeleton, each email's values put in), the
opt-out link (its path reversed once) and the MIME bytes on the wire (remembered header folding)."""

from __future__ import annotations

import copy
import datetime
import random
import re
import uuid
from email import policy as email_policy
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Clinic
from outreach.models import Appointment
from patients.models import Patient
from reminders import emails, optout
from reminders.models import Kind, Reminder

LONDON = ZoneInfo("Europe/London")
NOW = datetime.datetime(2026, 3, 20, 9, 30, tzinfo=LONDON)


@pytest.fixture(autouse=True)
def _fresh(settings) -> None:
    settings.CLINIC_EMAIL_NAME = "Riverside Clinic"
    settings.SITE_URL = "https://clinic.example.org"
    emails._SKELETONS.clear()


RIVERSIDE = {"name": "Riverside", "phone": "020 7946 0000", "email": "bookings@riverside.example"}
CLINICS = {
    "bare": {"name": "Bare"},
    "riverside": {**RIVERSIDE, "address": "1 River Lane\nLondon & Thames <EC1>"},
}


def _reminder(kind: str, *, name: str, clinic: str, booked: bool = False, change: str = "") -> Reminder:
    """An unsaved reminder (or appointment notice, with `change`) and what its email names."""
    place = Clinic(slug=clinic, time_zone="Europe/London", **CLINICS[clinic])
    patient = Patient(given_name=name, email=f"{clinic}@example.org", reminder_key=uuid.uuid4(), clinic=place)
    starts = datetime.datetime(2026, 3, 29, 9, 30, tzinfo=LONDON)  # the day the clocks go forward
    visit = Appointment(
        pk=7, kind="injection", starts_at=starts, duration_minutes=15, uid=uuid.uuid4(), patient=patient
    )
    patient.booked_appointments = [visit] if booked else []
    if change:
        kind = f"appointment_{change}"
    return Reminder(
        kind=kind,
        due_date=datetime.date(2026, 3, 24),
        patient=patient,
        appointment=visit if change else None,
        sequence=2 if change else None,
        visit_at=starts if change else None,
        created_at=NOW,
        claimed_at=NOW,
    )


NAMES = ["Ada", "Zoë", "O'Brien & <Sons>", 'Mary "May"', "  spaced  out  ", "Jean-Luc"]
CASES = [
    *[(Kind.INJECTION_DUE_SOON, name, "riverside", False, "") for name in NAMES],
    (Kind.INJECTION_DUE_SOON, "Ada", "bare", False, ""),
    (Kind.INJECTION_DUE_SOON, "Ada & Bo", "riverside", True, ""),
    (Kind.RECHECK_DUE_SOON, "Ada", "bare", True, ""),
    (Kind.INJECTION_OVERDUE, "Ada <b>", "riverside", False, ""),
    (Kind.RECHECK_OVERDUE, "Zoë", "bare", False, ""),
    *[(None, "O'Brien & <Sons>", "riverside", False, change) for change in ("booked", "moved", "cancelled")],
    (None, "Ada", "bare", False, "booked"),
]


def _django_render(template: str, message: EmailMultiAlternatives, context: dict[str, Any]) -> tuple[str, str, str]:
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    return (
        subject,
        render_to_string(f"emails/{template}_body.txt", context),
        render_to_string(f"emails/{template}_body.html", context),
    )


def _context(reminder: Reminder, opt_out: str) -> tuple[str, dict[str, Any]]:
    """The context reminders.emails gives the templates, built here the plain way."""
    patient = reminder.patient
    base = {**emails.clinic_context(), **emails.clinic_context(patient.clinic), "given_name": patient.given_name}
    if reminder.appointment is not None:
        when = emails.format_visit(reminder.visit_at, patient.clinic.zone)
        change = reminder.kind.removeprefix("appointment_")
        return "appointment", {
            **base,
            "visit": "injection appointment",
            "when": when,
            "change": change,
            "unsubscribe_url": opt_out,
        }
    overdue = reminder.kind in (Kind.INJECTION_OVERDUE, Kind.RECHECK_OVERDUE)
    booked = None if overdue else emails.booked_appointment(reminder, now=NOW)
    return "reminder", {
        **base,
        "visit": emails.VISIT[Kind(reminder.kind)],
        "due": emails.format_day(reminder.due_date),
        "appointment": emails.format_visit(booked.starts_at, patient.clinic.zone) if booked else "",
        "overdue": overdue,
        "unsubscribe_url": opt_out,
    }


@pytest.mark.parametrize(("kind", "name", "clinic", "booked", "change"), CASES)
def test_each_email_reads_as_its_templates_rendered_by_django(
    kind: str | None, name: str, clinic: str, booked: bool, change: str
) -> None:
    # Twice: the first email of a skeleton is rendered in full (and checked), the second is filled in.
    for given_name in (name, f"{name} Jr"):
        reminder = _reminder(kind or "", name=given_name, clinic=clinic, booked=booked, change=change)
        message = emails.reminder_email(reminder)
        template, context = _context(reminder, message.extra_headers["List-Unsubscribe"][1:-1])
        assert (message.subject, message.body, message.alternatives[0][0]) == _django_render(template, message, context)
    assert all(skeleton.usable for skeleton in emails._SKELETONS.values())


def test_a_skeleton_serves_many_patients_and_one_per_branch() -> None:
    for n in range(20):
        emails.reminder_email(_reminder(Kind.INJECTION_DUE_SOON, name=f"P{n}", clinic="riverside", booked=n % 2 == 0))
    assert len(emails._SKELETONS) == 2  # booked or not; the names, dates and links are filled in


def test_a_template_that_changes_a_value_is_rendered_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """A skeleton only works for values printed as they are: one that is not (here, a filter) is seen on
    the first email and not used."""
    from django.template import engines

    upper = engines["django"].from_string("{{ given_name|upper }} {{ due }}")
    monkeypatch.setattr(emails, "get_template", lambda name: upper)
    for name in ("ada", "bo"):
        subject, text, html = emails.render_email(
            "x", {"given_name": name, "due": "today"}, slots=("given_name", "due")
        )
        assert (subject, text, html) == (f"{name.upper()} today",) * 3
    assert [skeleton.usable for skeleton in emails._SKELETONS.values()] == [False]


def test_a_reloaded_template_makes_its_skeleton_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.template import engines

    current = [engines["django"].from_string("Hi {{ given_name }}")]
    monkeypatch.setattr(emails, "get_template", lambda name: current[0])
    for name in ("ada", "bo"):
        assert emails.render_email("x", {"given_name": name}, slots=("given_name",))[1] == f"Hi {name}"
    current[0] = engines["django"].from_string("Hello {{ given_name }}")
    assert emails.render_email("x", {"given_name": "cy"}, slots=("given_name",))[1] == "Hello cy"


def test_the_opt_out_link_is_the_reversed_page_with_the_signed_token() -> None:
    patient = Patient(reminder_key=uuid.uuid4())
    url = optout.unsubscribe_url(patient)
    token = url.removeprefix("https://clinic.example.org/reminders/unsubscribe/").removesuffix("/")
    assert url == settings.SITE_URL + reverse("reminders:unsubscribe", args=[token])
    assert signing.loads(token, salt=optout.UNSUBSCRIBE_SALT) == patient.reminder_key.hex


@pytest.mark.parametrize("prefix", ["/", "/clinic/", "/tokens/", "/tokenA1/"])
def test_the_opt_out_link_is_right_under_any_script_prefix(prefix: str) -> None:
    """The path is reversed once and the token put in its place: under a prefix holding the
    stand-in's text ("/tokens/", found by review: the link lost its prefix) it is still reverse's."""
    from django.urls import set_script_prefix

    patient = Patient(reminder_key=uuid.uuid4())
    set_script_prefix(prefix)
    try:
        url = optout.unsubscribe_url(patient)
        token = url.rstrip("/").rpartition("/")[2]
        assert url == settings.SITE_URL + reverse("reminders:unsubscribe", args=[token])
        assert url.startswith(f"{settings.SITE_URL}{prefix}reminders/unsubscribe/")
        assert signing.loads(token, salt=optout.UNSUBSCRIBE_SALT) == patient.reminder_key.hex
    finally:
        set_script_prefix("/")


COMPAT32 = email_policy.compat32.clone(linesep="\r\n")
HEADERS = [
    ("Subject", "Riverside Clinic: your injection appointment is due on Tuesday 24 March 2026"),
    ("Subject", "Riverside Clinic: your injection appointment is due on Thursday 3 December"),  # 78 wide
    ("Subject", "Riverside Clinic: your injection appointment is due on Thursday 3 Decembers"),  # 79
    ("Subject", "a" * 100),
    ("Subject", "two  spaces, a comma; a semicolon and " + "x" * 60 + "; after,it " * 5),
    ("Subject", " leading and trailing "),
    ("Subject", "tab\there"),
    ("Subject", "Riverside Clinic: your injection appointment is due on Wednesday 30\n September 2026"),
    ("Subject", "folded\n  twice\n " + "y" * 90 + " end"),
    ("Subject", "a break\nwithout a space"),
    ("Subject", "Zoë"),
    ("Content-Type", 'multipart/alternative; boundary="===============1234567890123456789=="'),
    ("Content-Type", 'text/plain; charset="utf-8"'),
    ("List-Unsubscribe", "<https://clinic.example.org/reminders/unsubscribe/" + "Ab-_:" * 20 + "/>"),
    ("To", "patient7392@example.org"),
    ("From", "Riverside Clinic <clinic@localhost>"),
    ("X-Long", ",".join(["word"] * 40)),
    ("X-Long", ";".join(["w x"] * 40)),
    ("X-Empty", ""),
]


@pytest.mark.parametrize("policy", [COMPAT32, email_policy.compat32, COMPAT32.clone(max_line_length=None)])
@pytest.mark.parametrize(("name", "value"), HEADERS)
def test_a_header_is_folded_as_the_email_package_folds_it(policy: email_policy.Compat32, name: str, value: str) -> None:
    for _ in range(2):  # the second time from what was remembered
        assert emails._fold_binary(policy, name, value) == policy.fold_binary(name, value)


def _flattened(mime: Any) -> bytes:
    out = BytesIO()
    emails._Generator(out, mangle_from_=False).flatten(mime, linesep="\r\n")
    return out.getvalue()


@pytest.mark.parametrize(("kind", "name", "clinic", "booked", "change"), CASES)
def test_the_bytes_on_the_wire_are_djangos(kind: str | None, name: str, clinic: str, booked: bool, change: str) -> None:
    reminder = _reminder(kind or "", name=name, clinic=clinic, booked=booked, change=change)
    mime = emails.reminder_email(reminder).message()
    twin = copy.deepcopy(mime)  # the same Date; the same boundaries from the same random numbers
    random.seed(16)
    expected = mime.as_bytes(linesep="\r\n")
    random.seed(16)
    assert _flattened(twin) == expected


def test_the_bytes_of_other_messages_too() -> None:
    """Non-ASCII names and subjects (encoded words), a long line (quoted-printable), an attachment."""
    message = EmailMultiAlternatives(
        subject="Zoë: " + "a long subject " * 8,
        body="line\n" + "x" * 1200 + "\n.dot and From start\n",
        from_email="Clinique Zoë <clinic@example.org>",
        to=["Ådne Ø <adne@example.org>"],
        headers={"Message-ID": "<m@example.org>", "Date": "Fri, 20 Mar 2026 09:30:00 -0000"},
    )
    message.attach_alternative("<p>é</p>", "text/html")
    message.attach("a.txt", "attached ü", "text/plain")
    random.seed(16)
    expected = message.message().as_bytes(linesep="\r\n")
    random.seed(16)
    assert emails.wire_bytes(message) == expected


def test_a_boundary_found_in_the_text_is_not_used() -> None:
    random.seed(16)
    first = emails._Generator._make_boundary()
    random.seed(16)
    assert emails._Generator._make_boundary(b"x\r\n--" + first.encode() + b"\r\n") == f"{first}.0"
    random.seed(16)
    assert emails._Generator._make_boundary(b"--" + first.encode() + b"--") == f"{first}.0"
    random.seed(16)
    assert emails._Generator._make_boundary(b"no boundary here") == first


SLOTS = {"reminder": emails.REMINDER_SLOTS, "appointment": emails.APPOINTMENT_SLOTS}


@pytest.mark.parametrize("template", list(SLOTS))
def test_the_templates_only_print_their_slots_or_ask_whether_they_are_set(template: str) -> None:
    """A skeleton is exact while a slot is printed as it is, or only tested for being set (an empty
    value is never a slot: it is part of the skeleton's key). A filter or a comparison could give the
    marker one answer and a later email's value another, unseen by the check of each skeleton's first
    email; so every use of a slot in the templates (their includes too) is one of those two forms."""
    from pathlib import Path

    folder = Path(settings.BASE_DIR) / "templates" / "emails"
    texts = [(folder / f"{template}_{part}").read_text() for part in ("subject.txt", "body.txt", "body.html")]
    texts += [
        (folder / name).read_text() for text in list(texts) for name in re.findall(r'{% include "emails/([^"]+)"', text)
    ]
    allowed = {f"{{{{ {slot} }}}}" for slot in SLOTS[template]} | {
        f"{{% {word} {slot} %}}" for slot in SLOTS[template] for word in ("if", "elif")
    }
    uses = []
    for text in texts:
        for tag in re.findall(r"{{.*?}}|{%.*?%}", text, flags=re.S):
            if any(re.search(rf"\b{slot}\b", tag) for slot in SLOTS[template]):
                uses.append(tag)
                assert tag in allowed, f"{template}: {tag} uses a slot otherwise than printing or testing it"
    assert {f"{{{{ {slot} }}}}" for slot in SLOTS[template]} <= set(uses)  # each slot is printed somewhere
