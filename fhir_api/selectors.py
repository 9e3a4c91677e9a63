"""Reads of the FHIR API: the token of a request, the patients and exports a user may see."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from accounts.clinics import clinics_of
from accounts.models import Clinic
from fhir_api import tokens
from fhir_api.models import ApiToken, BulkExport
from patients.models import Patient


def token_valid(raw: str, *, now: datetime.datetime) -> ApiToken | None:
    """The token `raw` names if it is not revoked, not expired and its user is active; else None."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=tokens.token_hash(raw), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    return token


def tokens_of(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def export_patients(export: BulkExport) -> QuerySet[Patient]:
    return Patient.objects.filter(clinic__in=export.clinics.all()).select_related("clinic").order_by("pk")


def export_of(user: AbstractBaseUser, export_id: str) -> BulkExport | None:
    """The export `export_id` if `user` asked for it (nobody else polls, downloads or deletes it)."""
    return BulkExport.objects.filter(pk=export_id, user=user).first()


def group_clinic(user: AbstractBaseUser, slug: str) -> Clinic | None:
    """A FHIR Group here is a clinic (by its slug), among the user's."""
    return clinics_of(user).filter(slug=slug).first()
