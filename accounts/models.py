"""Per-account security state beside Django's user (roles are Django groups, see roles.py).

This module also makes Django send this app's post_migrate signal, which grants each role the
permissions of models added by later migrations."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class AccountState(models.Model):
    """Whether the user must choose a new password before anything else: set when an administrator
    created the account or set its password (so nobody but its owner knows the password in use)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_state")
    must_change_password = models.BooleanField(default=False)
    password_changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Account state of {self.user}"


def must_change_password(user: object) -> bool:
    state = getattr(user, "account_state", None) if getattr(user, "pk", None) else None
    return bool(state and state.must_change_password)


def require_password_change(user: object) -> None:
    """The user's next login leads to the password change first."""
    AccountState.objects.update_or_create(user=user, defaults={"must_change_password": True})


def default_time_zone() -> str:
    return settings.TIME_ZONE


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/London).") from error


class Clinic(models.Model):
    """A clinic (site) of the programme. Every patient belongs to one (patients.Patient.clinic); staff
    belong to one or more (`staff`). Which clinics a user may see is accounts.clinics.clinics_of."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="clinics", blank=True)
    # Where appointments are shown and letters come from: the clinic's own time zone (never UTC in
    # anything a patient reads) and its letterhead.
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone])
    address = models.TextField(blank=True, help_text="The letterhead's address, one line per line.")
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [("view_programme", "See every clinic's counts, without patient data")]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)
