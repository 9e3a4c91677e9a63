"""The access log: every read of patient data and every authentication event, with who, when, from
where and which patients. Changes to records are audited by django-simple-history; this log covers
reads, which leave no other trace. It is append-only for everyone: rows are never changed or deleted
(the model refuses, the admin offers neither, and on PostgreSQL a trigger refuses UPDATE and DELETE)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    pass


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("The access log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The access log is append-only.")


class AccessEvent(models.Model):
    class Kind(models.TextChoices):
        READ = "read", "Read patient data"
        LOGIN = "login", "Logged in"
        LOGOUT = "logout", "Logged out"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOCKED_OUT = "locked_out", "Locked out"
        MFA_RESET = "mfa_reset", "Second factor reset"
        DENIED = "denied", "Refused (403)"
        NOT_FOUND = "not_found", "Not found (404)"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="access_events"
    )
    # As typed at a failed login (there may be no such user); the user's name otherwise.
    username = models.CharField(max_length=150, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=10, blank=True)
    # The path only: a query string may carry names (search is a POST for that reason).
    path = models.CharField(max_length=500, blank=True)
    page = models.CharField(max_length=100, blank=True, help_text="The page's name, e.g. patient_detail.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    patients = models.ManyToManyField("patients.Patient", through="AccessedPatient", related_name="access_events")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["user", "at"], name="accessevent_user_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.get_kind_display()} {self.path}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("The access log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The access log is append-only.")


class AccessedPatient(models.Model):
    """One patient whose data an event showed. PROTECT: deleting a patient must not erase who read them."""

    event = models.ForeignKey(AccessEvent, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "patient"], name="accessed_patient_once")]
        indexes = [models.Index(fields=["patient", "event"], name="accessed_patient_patient")]

    def __str__(self) -> str:
        return f"patient {self.patient_id} in access event {self.event_id}"
