"""The audit trail of imports: who imported which files (their SHA-256), when, and what came of it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from exchange.importer import Report, Upload


class ImportRun(models.Model):
    class Source(models.TextChoices):
        COMMAND = "command", "manage.py import_register"
        PAGE = "page", "Import page"

    class Status(models.TextChoices):
        CHECKED = "checked", "Checked (dry run)"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SAVED = "saved", "Saved"
        REFUSED = "refused", "Refused: nothing saved"
        FAILED = "failed", "Failed: nothing saved"

    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    clinic = models.CharField(max_length=100, blank=True)
    date_format = models.CharField(max_length=40, blank=True)
    dry_run = models.BooleanField(default=False)
    accept_warnings = models.BooleanField(default=False)
    files = models.JSONField(default=list, help_text="[{name, filename, sha256, bytes}]")
    report = models.JSONField(default=dict, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("import_register", "Can import a clinic's register and export the whole clinic")]

    def __str__(self) -> str:
        return f"Import {self.pk} by {self.by} on {self.created_at:%Y-%m-%d %H:%M}: {self.get_status_display()}"

    @property
    def percent(self) -> int:
        if self.status in (self.Status.SAVED, self.Status.REFUSED, self.Status.CHECKED):
            return 100
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @staticmethod
    def describe(uploads: Iterable[Upload]) -> list[dict[str, Any]]:
        return [
            {
                "name": u.name,
                "filename": u.filename,
                "sha256": hashlib.sha256(u.content).hexdigest(),
                "bytes": len(u.content),
            }
            for u in uploads
        ]

    @classmethod
    def record(cls, *, report: Report, uploads: Iterable[Upload], by: Any, source: str, **fields: Any) -> ImportRun:
        """The run of a finished import (the command's, or a dry run on the page)."""
        uploads = list(uploads)
        return cls.objects.create(
            by=by,
            source=source,
            status=cls.status_of(report),
            files=cls.describe(uploads),
            report=report.as_dict(),
            rows_total=report.rows,
            rows_done=report.rows,
            dry_run=report.dry_run,
            accept_warnings=report.warnings_accepted,
            finished_at=timezone.now(),
            **fields,
        )

    @classmethod
    def status_of(cls, report: Report) -> str:
        if report.saved:
            return cls.Status.SAVED
        if report.errors or not report.dry_run:
            return cls.Status.REFUSED
        return cls.Status.CHECKED  # a dry run without errors: warnings are accepted on confirming


class ImportFile(models.Model):
    """An uploaded file kept for the confirmation and the Celery task that imports it; its content is
    cleared once the import is saved or refused (the run keeps its SHA-256)."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="uploads")
    name = models.CharField(max_length=20)
    filename = models.CharField(max_length=255)
    content = models.BinaryField()

    def __str__(self) -> str:
        return f"{self.name}: {self.filename}"
