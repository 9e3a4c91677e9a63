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
# Two stand-ins for the token: the path is split at the last occurrence of the first (a script prefix
# may hold any text, "/tokens/" say), and the split is checked by putting the second in its place.
_PLACEHOLDERS = ("tokenA1", "tokenB2")


@functools.lru_cache(maxsize=16)
def _unsubscribe_path(urlconf: object, script_prefix: str) -> tuple[str, str] | None:
    """The opt-out page's path around its token: reversed once (per URLconf and script prefix); None
    when it cannot be split that way (the caller then reverses for each email)."""
    first, second = (reverse("reminders:unsubscribe", urlconf=urlconf, args=[p]) for p in _PLACEHOLDERS)
    before, found, after = first.rpartition(_PLACEHOLDERS[0])
    if not found or f"{before}{_PLACEHOLDERS[1]}{after}" != second:
        return None
    return before, after


def unsubscribe_url(patient: Patient) -> str:
    """SITE_URL and the reversed path of the opt-out page with the patient's token, with the path
    reversed once rather than for every email (the same string: tests/reminders/test_wire.py)."""
    token = unsubscribe_token(patient)
    around = _unsubscribe_path(get_urlconf(settings.ROOT_URLCONF), get_script_prefix())
    if around is None or not _TOKEN.fullmatch(token):
        return settings.SITE_URL + reverse("reminders:unsubscribe", args=[token])
    before, after = around
    return f"{settings.SITE_URL}{before}{token}{after}"


def patient_for_unsubscribe_token(token: str) -> Patient | None:
    """The patient of a valid token not older than a year; None otherwise."""
    try:
        key = uuid.UUID(hex=signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=UNSUBSCRIBE_MAX_AGE))
    except (signing.BadSignature, ValueError, TypeError):  # SignatureExpired is a BadSignature
        return None
    return Patient.objects.filter(reminder_key=key).first()
