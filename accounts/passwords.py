"""A password validator for the clinic's own words, beside Django's length, similarity and common-
password checks (Django's bundled list of 20,000 passwords from breaches works offline)."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError

CLINIC_WORDS = ("b12", "clinic", "cobalamin", "injection", "password", "nurse", "physician", "admin")


class ClinicWordsValidator:
    """Refuses a password that is mostly one of the clinic's words with digits or symbols around it
    ("b12clinic2026!", "Clinic1234567"): the first guesses anyone tries here."""

    def validate(self, password: str, user: object = None) -> None:
        words = {*CLINIC_WORDS, *re.findall(r"[a-z0-9]+", settings.CLINIC_NAME.lower())}
        letters = re.sub(r"[^a-z]", "", password.lower())
        stripped = letters
        for word in sorted(words, key=len, reverse=True):
            stripped = stripped.replace(re.sub(r"[^a-z]", "", word), "")
        if letters and len(stripped) < 4:
            raise ValidationError(
                "This password is made of the clinic's own words; choose one nobody here would guess.",
                code="password_clinic_words",
            )

    def get_help_text(self) -> str:
        return "Your password cannot be made of the clinic's own words (its name, B12, clinic ...)."
