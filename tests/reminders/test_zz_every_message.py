"""Reads every message the SMTP server received during the session (patient reminders from the
workers and from this process, appointment notices and their .ics invitations, staff digests): none
may carry a diagnosis, drug, lab name or value, and every patient email has a working one-click
opt-out. Without a database, so pytest-django runs
it after every test that uses one (it is named to come last among the rest)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.urls import resolve

from reminders.optout import UNSUBSCRIBE_MAX_AGE, UNSUBSCRIBE_SALT
from tests.reminders.conftest import SESSION_MESSAGES

# It reads what the real SMTP server received from the other `services` tests.
pytestmark = pytest.mark.services

FORBIDDEN = re.compile(
    r"b\s*-?\s*12|cobalamin|vitamin|pernicious|an(a)?emi|\bmma\b|methylmalonic|homocyst|folate|folic|ferritin"
    r"|transferrin|deficien|metformin|\bppi\b|crohn|bariatric|gastr|ileal|ileum|neurolog|malabsor"
    r"|\bmcg\b|\bµg\b|pg\s*/\s*ml|pmol|nmol|umol|µmol|ng\s*/\s*ml|\bug\s*/\s*l\b",
    re.IGNORECASE,
)
UNSUBSCRIBE = re.compile(r"https?://[^\s\"<>]+/reminders/unsubscribe/([^/\s\"<>]+)/")


def _texts(message) -> list[str]:
    return [
        str(message["Subject"]),
        str(message["From"]),
        message.get_body(preferencelist=("plain",)).get_content(),
        message.get_body(preferencelist=("html",)).get_content(),
    ]


def _invitations(message) -> list[str]:
    """The .ics invitations an appointment notice carries (test_appointment_notices.py)."""
    return [part.get_content() for part in message.walk() if part.get_content_type() == "text/calendar"]


def test_no_email_of_the_session_names_a_diagnosis_a_drug_or_a_lab_value() -> None:
    if not SESSION_MESSAGES:
        pytest.skip("no message was sent in this session: run it with the other reminder tests")
    for message in SESSION_MESSAGES:
        for text in [*_texts(message), *_invitations(message)]:
            text = UNSUBSCRIBE.sub("<opt-out link>", text)  # a signed token is random letters
            found = FORBIDDEN.search(text)
            assert found is None, f"{found.group(0)!r} in {message['Message-ID']}: {text[:300]}"


def test_the_session_read_appointment_notices_and_their_invitations_too() -> None:
    """So that the test above read them: notices of a booking, a move and a cancellation, each with
    its .ics (skipped without the other reminder tests, as the tests above)."""
    if not SESSION_MESSAGES:
        pytest.skip("no message was sent in this session: run it with the other reminder tests")
    methods = {
        line.removeprefix("METHOD:").strip()
        for message in SESSION_MESSAGES
        for ics in _invitations(message)
        for line in ics.splitlines()
        if line.startswith("METHOD:")
    }
    if not methods:
        pytest.skip("no appointment notice was sent in this session: run it with test_appointment_notices.py")
    assert methods == {"REQUEST", "CANCEL"}


def test_every_patient_email_of_the_session_has_a_working_one_click_opt_out() -> None:
    patient_mail = [m for m in SESSION_MESSAGES if str(m["Message-ID"]).startswith("<reminder-")]
    if not patient_mail:
        pytest.skip("no patient email was sent in this session: run it with the other reminder tests")
    for message in patient_mail:
        header = str(message["List-Unsubscribe"]).strip()
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        for body in _texts(message)[2:]:
            (link,) = {match.group(0) for match in UNSUBSCRIBE.finditer(body)}
            assert header == f"<{link}>"
        token = UNSUBSCRIBE.search(header).group(1)
        key = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=UNSUBSCRIBE_MAX_AGE)
        assert isinstance(key, str) and len(key) == 32 and not key.isdigit()  # opaque, never the database id
        assert resolve(urlsplit(link).path).url_name == "unsubscribe"
