"""Lab results received from the laboratory's system (HL7 v2 ORU^R01), kept with their message.

Every message received is a `ReceivedMessage` (raw text, control id, the ACK sent); each OBX of it a
`ReceivedResult`: recorded (linked to its LabResult), or pending in the unmatched-results queue with
the reason, until staff match it to a patient or reject it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from protocols.engine import units


class LoincCode(models.Model):
    """A LOINC code a clinic adds to (or re-maps from) the built-in table (labs_in.loinc.DEFAULT)."""

    code = models.CharField("LOINC code", max_length=16, unique=True)
    analyte = models.CharField(max_length=32, choices=units.ANALYTE_CHOICES)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "LOINC code"

    def __str__(self) -> str:
        return f"{self.code} -> {self.analyte}"


class ReceivedMessage(models.Model):
    """One ORU^R01 as received. The same sender's control id twice records nothing new: the second
    copy is answered with the first one's ACK."""

    control_id = models.CharField(max_length=64)
    sending_application = models.CharField(max_length=100, blank=True)
    sending_facility = models.CharField(max_length=100, blank=True)
    # The clinic the receiving interface serves; None when it serves every clinic.
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    raw = models.TextField(help_text="The message as received, segments ended by CR.")
    received_at = models.DateTimeField()
    received_by = models.CharField(max_length=40, help_text="How it came: mllp, file or drop folder.")
    ack_code = models.CharField(max_length=2)
    ack = models.TextField()

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sending_application", "sending_facility", "control_id"], name="received_message_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sending_application or '?'} {self.control_id}"

    @property
    def segments(self) -> list[str]:
        return [segment for segment in self.raw.split("\r") if segment]


class ResultStatus(models.TextChoices):
    RECORDED = "recorded", "Recorded"  # matched on arrival, a LabResult made
    PENDING = "pending", "Pending"  # in the queue
    MATCHED = "matched", "Matched by staff"  # from the queue, a LabResult made
    REJECTED = "rejected", "Rejected"


class ReceivedResult(models.Model):
    """One OBX of a received message, with the patient fields of its PID."""

    message = models.ForeignKey(ReceivedMessage, on_delete=models.PROTECT, related_name="results")
    set_id = models.CharField(max_length=10, blank=True)
    mrn = models.CharField("record number (PID-3)", max_length=64, blank=True)
    birth_date = models.DateField("birth date (PID-7)", null=True, blank=True)
    family_name = models.CharField(max_length=100, blank=True)
    given_name = models.CharField(max_length=100, blank=True)
    sex = models.CharField(max_length=10, blank=True)
    code = models.CharField("LOINC code (OBX-3)", max_length=32, blank=True)
    code_text = models.CharField(max_length=200, blank=True)
    analyte = models.CharField(max_length=32, blank=True, choices=units.ANALYTE_CHOICES)
    value = models.CharField("value (OBX-5)", max_length=64, blank=True)
    unit = models.CharField("unit (OBX-6)", max_length=32, blank=True)
    reference_range = models.CharField(max_length=64, blank=True)
    observed_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ResultStatus.choices)
    reason = models.TextField(blank=True, help_text="Why it was queued.")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    lab = models.OneToOneField(
        "patients.LabResult", on_delete=models.PROTECT, null=True, blank=True, related_name="received_result"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["message__received_at", "pk"]
        indexes = [models.Index(fields=["status"], name="received_result_status")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status__in=["recorded", "matched"]) | Q(lab__isnull=False, patient__isnull=False),
                name="received_result_recorded_has_lab",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reject_reason=""), name="received_result_rejected_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.value} {self.unit} for {self.mrn or '(no record number)'}"
