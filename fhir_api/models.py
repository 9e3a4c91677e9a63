"""The FHIR API's own records: per-user API tokens (stored hashed) and bulk exports.

Permissions (granted to roles deliberately, accounts/roles.py): `fhir_api.use_api` to read records
through the API (with the patient-reading permissions of the user's role, scoped to their clinics),
`fhir_api.post_results` to post lab results to it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A bearer token acting as its user. Only a SHA-256 of it is kept; it is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    label = models.CharField(max_length=100, help_text="What the token is for, e.g. the registry's import job.")
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("use_api", "Read patient records through the FHIR API"),
            ("post_results", "Post lab results through the FHIR API"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.prefix}...)"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"  # its files deleted FHIR_EXPORT_KEEP_HOURS after it finished


class BulkExport(models.Model):
    """One bulk-data $export: kicked off, made by a Celery task into NDJSON files under
    VAR_DIR/fhir-export/<id>/, polled, downloaded, deleted. Its clinics are the token user's at kick-off."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    clinics = models.ManyToManyField("accounts.Clinic", related_name="+")
    request_url = models.CharField(max_length=1000)
    types = models.JSONField(default=list, help_text="The _type asked for; empty for every type.")
    since = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.CharField(max_length=200, blank=True)
    requested_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # [{"type": "Patient", "name": "Patient.ndjson", "count": 12}], in the order written.
    output = models.JSONField(default=list)
    patient_ids = models.JSONField(default=list, help_text="The patients exported (the access log names them).")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"Export {self.id} ({self.status})"
