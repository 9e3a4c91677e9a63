"""A physician's decision about one patient: who, when, why, and what it changed.

Each decision is recorded by a service in clinic.services in the same transaction as the regimen
change it makes, so the record of a decision and its effect commit (or roll back) together.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class DecisionKind(models.TextChoices):
    INTERVAL_OVERRIDE_SET = "interval_override_set", "Maintenance interval set"
    INTERVAL_OVERRIDE_CLEARED = "interval_override_cleared", "Maintenance interval override cleared"
    ORAL_SWITCH_APPROVED = "oral_switch_approved", "Switch to oral therapy approved"
    ORAL_SWITCH_DECLINED = "oral_switch_declined", "Switch to oral therapy declined"
    ALERT_ACKNOWLEDGED = "alert_acknowledged", "Alert acknowledged"


class Decision(models.Model):
    Kind = DecisionKind

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=32, choices=DecisionKind.choices)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    made_at = models.DateTimeField()
    reason = models.TextField()
    # For acknowledgements: which alert, and the date that occurrence of it had been active since.
    alert_rule = models.CharField(max_length=40, blank=True)
    alert_since = models.DateField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-made_at"]
        indexes = [models.Index(fields=["patient", "kind", "made_at"], name="decision_patient_kind_at")]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="decision_reason_not_blank"),
            models.CheckConstraint(
                condition=Q(kind__in=[str(value) for value in DecisionKind.values]), name="decision_kind_valid"
            ),
            models.CheckConstraint(
                condition=(Q(kind=DecisionKind.ALERT_ACKNOWLEDGED) & ~Q(alert_rule="") & Q(alert_since__isnull=False))
                | (~Q(kind=DecisionKind.ALERT_ACKNOWLEDGED) & Q(alert_rule="", alert_since__isnull=True)),
                name="decision_alert_fields_iff_ack",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for patient {self.patient_id} by {self.made_by} on {self.made_at:%Y-%m-%d}"
