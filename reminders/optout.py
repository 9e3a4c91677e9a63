"""Patients' one-click opt-out: the signed token in every reminder and the page's address.

The token carries the patient's opaque reminder key (never the database id) and a timestamp: it is
refused after UNSUBSCRIBE_MAX_AGE (a year), by which time newer reminders carry newer tokens."""

from __future__ import annotations

import datetime
import functools
import re
import uuid

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse

from patients.models import Patient

UNSUBSCRIBE_SALT = "reminders.unsubscribe"
UNSUBSCRIBE_MAX_AGE = datetime.timedelta(days=365)


def unsubscribe_token(patient: Patient) -> str:
    return signing.dumps(patient.reminder_key.hex, salt=UNSUBSCRIBE_SALT)


# What signing's tokens are made of (URL-safe base64 and ":"), none of which `reverse` quotes.
_TOKEN = re.compile(r"[A-Za-z0-9_:-]+")
_PLACEHOLDER = "token"


@functools.lru_cache(maxsize=16)
def _unsubscribe_path(urlconf: object, script_prefix: str) -> tuple[str, str]:
    """The opt-out page's path around its token: reversed once (per URLconf and script prefix)."""
    before, _, after = reverse("reminders:unsubscribe", urlconf=urlconf, args=[_PLACEHOLDER]).partition(_PLACEHOLDER)
    return before, after


def unsubscribe_url(patient: Patient) -> str:
    """SITE_URL and the reversed path of the opt-out page with the patient's token, with the path
    reversed once rather than for every email (the same string: tests/reminders/test_wire.py)."""
    token = unsubscribe_token(patient)
    if not _TOKEN.fullmatch(token):
        return settings.SITE_URL + reverse("reminders:unsubscribe", args=[token])
    before, after = _unsubscribe_path(get_urlconf(settings.ROOT_URLCONF), get_script_prefix())
    return f"{settings.SITE_URL}{before}{token}{after}"


def patient_for_unsubscribe_token(token: str) -> Patient | None:
    """The patient of a valid token not older than a year; None otherwise."""
    try:
        key = uuid.UUID(hex=signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=UNSUBSCRIBE_MAX_AGE))
    except (signing.BadSignature, ValueError, TypeError):  # SignatureExpired is a BadSignature
        return None
    return Patient.objects.filter(reminder_key=key).first()
