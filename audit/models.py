"""Who looked at which chart, and when. Changes to records are audited by django-simple-history;
this log covers reads, which leave no other trace."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ChartView(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="chart_views")
    # PROTECT: deleting a patient must not erase the record of who read their chart.
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="chart_views")
    viewed_at = models.DateTimeField(default=timezone.now, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-viewed_at"]
        indexes = [models.Index(fields=["patient", "viewed_at"], name="chartview_patient_viewed_at")]

    def __str__(self) -> str:
        return f"{self.user} viewed {self.patient} at {self.viewed_at:%Y-%m-%d %H:%M}"
