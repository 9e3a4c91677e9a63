"""The reminder outbox: one row per obligation, the source of truth (the broker is not a database).

A `Reminder` is created by the scan for (patient, kind, due date, channel), at most once thanks to the
unique constraint, and moves pending -> sending -> sent, back to pending after a temporary error,
or ends failed (permanent error), cancelled (the obligation went away) or skipped (the patient may not
be emailed). Every transition leaves a `ReminderEvent`. `StaffDigest` is the same outbox for the daily
staff email, one row per (user, date). `ReminderSettings` is the clinic's single settings row.
"""

from __future__ import annotations

import datetime
import uuid
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Kind(models.TextChoices):
    INJECTION_DUE_SOON = "injection_due_soon", "Injection due soon"
    INJECTION_OVERDUE = "injection_overdue", "Injection overdue"
    RECHECK_DUE_SOON = "recheck_due_soon", "Blood test due soon"
    RECHECK_OVERDUE = "recheck_overdue", "Blood test overdue"
    # Notices about a booked appointment (reminders.appointments), one per (appointment, sequence).
    APPOINTMENT_BOOKED = "appointment_booked", "Appointment booked"
    APPOINTMENT_RESCHEDULED = "appointment_rescheduled", "Appointment moved"
    APPOINTMENT_CANCELLED = "appointment_cancelled", "Appointment cancelled"


INJECTION_KINDS = (Kind.INJECTION_DUE_SOON, Kind.INJECTION_OVERDUE)
RECHECK_KINDS = (Kind.RECHECK_DUE_SOON, Kind.RECHECK_OVERDUE)
DUE_SOON_KINDS = (Kind.INJECTION_DUE_SOON, Kind.RECHECK_DUE_SOON)
APPOINTMENT_KINDS = (Kind.APPOINTMENT_BOOKED, Kind.APPOINTMENT_RESCHEDULED, Kind.APPOINTMENT_CANCELLED)


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    # A printed letter for a patient who may not be emailed (reminders.letters): pending until staff
    # print the day's batch, then sent. The email scan and workers never take these rows.
    LETTER = "letter", "Letter"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


FINAL_STATUSES = (Status.SENT, Status.FAILED, Status.CANCELLED, Status.SKIPPED)


def _message_id(prefix: str) -> str:
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<{prefix}-{uuid.uuid4().hex}@{domain}>"


def new_message_id() -> str:
    """A Message-ID fixed when the row is created, so a resend after a crash is recognisably the same mail."""
    return _message_id("reminder")


def new_digest_message_id() -> str:
    return _message_id("digest")


class OutboxMessage(models.Model):
    """What a reminder and a digest share: the claim, the attempts and the result."""

    Status = Status

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(help_text="Not sent before this time (retries back off).")
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When a send task was last handed to the broker; empty: not yet."
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, unique=True, default=new_message_id, editable=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        abstract = True


class Reminder(OutboxMessage):
    Kind = Kind
    Channel = Channel

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    due_date = models.DateField(help_text="The visit's due date this reminder is about.")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    reason = models.CharField(max_length=200, blank=True, help_text="Why it was skipped or cancelled.")
    # A notice about a booked appointment: which one, which version of it (the invitation's SEQUENCE)
    # and when it starts in that version (so an email sent late still names the time it was about).
    appointment = models.ForeignKey(
        "outreach.Appointment", on_delete=models.CASCADE, null=True, blank=True, related_name="notices"
    )
    sequence = models.PositiveIntegerField(null=True, blank=True)
    visit_at = models.DateTimeField(null=True, blank=True, help_text="The appointment's start this notice names.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "kind", "due_date", "channel"],
                condition=Q(appointment__isnull=True),
                name="reminder_one_per_obligation",
            ),
            # One notice per version of an appointment and channel, however often it is queued.
            models.UniqueConstraint(
                fields=["appointment", "sequence", "channel"],
                condition=Q(appointment__isnull=False),
                name="reminder_one_notice_per_sequence",
            ),
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="reminder_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="reminder_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="reminder_status_next_attempt")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.due_date} ({self.status})"


class ReminderEvent(models.Model):
    """One line of a reminder's history: each transition, with the error or reason."""

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.status} {self.note}".strip()


class StaffDigest(OutboxMessage):
    """The daily staff email, at most one per user and day, so a restarted beat does not send it twice."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    message_id = models.CharField(max_length=200, unique=True, default=new_digest_message_id, editable=False)

    class Meta:
        ordering = ["-date", "user_id"]
        constraints = [models.UniqueConstraint(fields=["user", "date"], name="staff_digest_one_per_day")]

    def __str__(self) -> str:
        return f"Digest for user {self.user_id} on {self.date} ({self.status})"


class ReminderSettings(models.Model):
    """The clinic's reminder rules; one row (pk=1), edited by a clinic admin in the admin."""

    enabled = models.BooleanField(default=True, help_text="Untick to stop creating patient reminders.")
    days_before = models.PositiveSmallIntegerField(
        default=3,
        validators=[MaxValueValidator(60)],
        help_text="Remind a patient this many days before a visit is due.",
    )
    days_after = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Remind again this many days after a due date passed without the visit.",
    )
    window_start_hour = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(23)], help_text="Patient emails go out from this hour (clinic time)."
    )
    window_end_hour = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(24)],
        help_text="... until this hour (clinic time, exclusive; 24 = midnight).",
    )
    digest_hour = models.PositiveSmallIntegerField(
        default=7,
        validators=[MaxValueValidator(23)],
        help_text="Staff get the day's digest from this hour on (clinic time).",
    )

    class Meta:
        verbose_name = verbose_name_plural = "reminder settings"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="reminder_settings_singleton"),
            models.CheckConstraint(
                condition=Q(window_start_hour__lt=models.F("window_end_hour")), name="reminder_window_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return "Reminder settings"

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def clean(self) -> None:
        if self.window_start_hour is not None and self.window_end_hour is not None:
            if self.window_start_hour >= self.window_end_hour:
                raise ValidationError({"window_end_hour": "The window must end after it starts."})

    @classmethod
    def load(cls) -> ReminderSettings:
        return cls.objects.get_or_create(pk=1)[0]

    def in_window(self, local: datetime.datetime) -> bool:
        """Whether patient mail may go out at `local` (an aware datetime in the clinic's time zone)."""
        return self.window_start_hour <= local.hour < self.window_end_hour
