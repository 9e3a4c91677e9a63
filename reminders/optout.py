"""Patients' one-click opt-out: the signed token in every reminder and the page's address.

The token carries the patient's opaque reminder key (never the database id) and a timestamp: it is
refused after UNSUBSCRIBE_MAX_AGE (a year), by which time newer reminders carry newer tokens."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.core import signing
from django.urls import reverse

from patients.models import Patient

UNSUBSCRIBE_SALT = "reminders.unsubscribe"
UNSUBSCRIBE_MAX_AGE = datetime.timedelta(days=365)


def unsubscribe_token(patient: Patient) -> str:
    return signing.dumps(patient.reminder_key.hex, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(patient: Patient) -> str:
    return settings.SITE_URL + reverse("reminders:unsubscribe", args=[unsubscribe_token(patient)])


def patient_for_unsubscribe_token(token: str) -> Patient | None:
    """The patient of a valid token not older than a year; None otherwise."""
    try:
        key = uuid.UUID(hex=signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=UNSUBSCRIBE_MAX_AGE))
    except (signing.BadSignature, ValueError, TypeError):  # SignatureExpired is a BadSignature
        return None
    return Patient.objects.filter(reminder_key=key).first()
