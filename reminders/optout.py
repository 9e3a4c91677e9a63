"""Patients' one-click opt-out: the signed token in every reminder and the page's address."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from patients.models import Patient

UNSUBSCRIBE_SALT = "reminders.unsubscribe"


def unsubscribe_token(patient: Patient) -> str:
    return signing.dumps(patient.pk, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(patient: Patient) -> str:
    return settings.SITE_URL + reverse("reminders:unsubscribe", args=[unsubscribe_token(patient)])


def patient_for_unsubscribe_token(token: str) -> Patient | None:
    try:
        pk = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Patient.objects.filter(pk=pk).first()
