"""Clinics (sites): which clinics a user may see, the one rule every selector, page, list and digest
applies (`clinics_of`), and the default clinic of a fresh database.

Patient data of a clinic the user may not see is simply not there for them: patients.access answers
404 for such a patient, never 403, so nobody learns that a record exists elsewhere.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils.text import slugify

from accounts.models import Clinic


def clinics_of(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Clinic]:
    """The clinics whose patients (or, for the programme role, whose counts) `user` may see: every
    clinic for an active superuser, the clinics the user is on the staff of for anyone else, none for
    an anonymous or inactive user. A lazy queryset: used in a filter (`clinic__in=`) it is a subquery,
    not one more query."""
    if not user.is_authenticated or not user.is_active:
        return Clinic.objects.none()
    if user.is_superuser:
        return Clinic.objects.all()
    return Clinic.objects.filter(staff=user)


def default_clinic_slug() -> str:
    return slugify(settings.DEFAULT_CLINIC_NAME)[:50] or "clinic"


def ensure_default_clinic(clinic_model: Any = Clinic) -> Any:
    """The clinic a database without any starts with, named DEFAULT_CLINIC_NAME; None when clinics
    exist already. Takes the model so that migrations can pass their historical one."""
    if clinic_model.objects.exists():
        return None
    return clinic_model.objects.create(name=settings.DEFAULT_CLINIC_NAME, slug=default_clinic_slug())


def only_clinic(clinic_model: Any = Clinic) -> Any:
    """The one clinic of a single-clinic install; None when there are several (or none)."""
    clinics = list(clinic_model.objects.order_by("pk")[:2])
    return clinics[0] if len(clinics) == 1 else None


def staff_join_only_clinic(user: AbstractBaseUser) -> bool:
    """Put a new staff account on the staff of the only clinic, when there is exactly one: what the
    admin and the demo seed do for an account they create, so a single-clinic install needs no
    set-up. With several clinics the admin chooses. True when the user was added."""
    clinic = only_clinic()
    if clinic is None:
        return False
    clinic.staff.add(user)
    return True
