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


class ContactOutcome(models.TextChoices):
    REACHED_BOOKED = "reached_booked", "Reached, booked"
    REACHED_CALL_BACK = "reached_call_back", "Reached, will call back"
    NO_ANSWER = "no_answer", "No answer"
    VOICEMAIL = "voicemail", "Voicemail"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    MOVED_AWAY = "moved_away", "Moved away"
    DECLINED = "declined", "Declined"
    DECEASED = "deceased", "Deceased"


class ContactAttempt(models.Model):
    """One call (or visit, or letter answered) to bring a patient back, with what came of it. Append-only:
    a mistaken attempt is followed by a better one, never edited."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="contact_attempts")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=20, choices=ContactOutcome.choices)
    note = models.TextField(blank=True)
    # Until this date the patient waits below the list of patients to call (outreach.selectors).
    next_attempt_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=ContactOutcome.values), name="contact_outcome_valid"),
        ]
        indexes = [models.Index(fields=["patient", "-at"], name="contact_attempt_latest")]
        permissions = [
            ("work_outreach", "See the outreach list with phone numbers, and call patients back to care"),
            ("view_outreach_measures", "See the outreach measures (counts per clinic and month, no patient)"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} at {self.at:%Y-%m-%d %H:%M}"


class ClinicCapacity(models.Model):
    """How many appointments a clinic takes on one weekday (0 Monday .. 6 Sunday; 0 appointments: closed).
    A weekday without a row takes DEFAULT_CAPACITY[weekday] (outreach.booking)."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.CASCADE, related_name="capacities")
    weekday = models.PositiveSmallIntegerField(
        choices=[
            (0, "Monday"),
            (1, "Tuesday"),
            (2, "Wednesday"),
            (3, "Thursday"),
            (4, "Friday"),
            (5, "Saturday"),
            (6, "Sunday"),
        ]
    )
    appointments = models.PositiveSmallIntegerField(help_text="Appointments a day; 0 when the clinic is closed.")

    class Meta:
        ordering = ["clinic", "weekday"]
        verbose_name_plural = "clinic capacities"
        constraints = [
            models.UniqueConstraint(fields=["clinic", "weekday"], name="clinic_capacity_one_per_weekday"),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="clinic_capacity_weekday_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.clinic}: {self.appointments} on {self.get_weekday_display()}"
