"""Bringing patients back: booked appointments (and, added beside them, contact attempts and the
clinic's daily capacity).

An `Appointment` is a booked visit for the next injection or recheck, at a local date and time of the
patient's clinic (stored as an aware datetime; shown in `Clinic.time_zone`, never UTC). It moves
booked -> attended (the injection or lab was recorded), missed (the day passed without it) or
cancelled (with a reason). A reschedule keeps the row, moves `starts_at` and raises `sequence`, so
that the calendar invitation the patient holds (`uid`, RFC 5545 SEQUENCE) is updated, not doubled.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class AppointmentKind(models.TextChoices):
    INJECTION = "injection", "Injection"
    RECHECK = "recheck", "Blood test"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    ATTENDED = "attended", "Attended"
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"


class Appointment(models.Model):
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="appointments")
    kind = models.CharField(max_length=12, choices=AppointmentKind.choices)
    starts_at = models.DateTimeField(help_text="When the visit starts (shown in the clinic's time zone).")
    duration_minutes = models.PositiveSmallIntegerField(default=15)
    status = models.CharField(max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED)
    status_reason = models.TextField(blank=True, help_text="Why it was cancelled or rescheduled.")
    # RFC 5545: the invitation's UID stays for the life of the appointment; SEQUENCE rises with each
    # reschedule and with the cancellation, so calendars replace the event rather than add one.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sequence = models.PositiveIntegerField(default=0, editable=False)
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    booked_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AppointmentKind.values), name="appointment_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=AppointmentStatus.values), name="appointment_status_valid"),
            # One open booking per patient and kind: booking again is a reschedule.
            models.UniqueConstraint(
                fields=["patient", "kind"],
                condition=Q(status="booked"),
                name="appointment_one_booked_per_kind",
            ),
        ]
        indexes = [models.Index(fields=["starts_at", "status"], name="appointment_day")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.starts_at:%Y-%m-%d %H:%M} ({self.status})"
