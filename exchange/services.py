"""Import runs on the page: kept with their files, checked or imported by the Celery task, recorded."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from exchange.importer import FILES, Upload, import_register
from exchange.models import ImportFile, ImportRun


def progress_key(run_id: int) -> str:
    return f"exchange:import:{run_id}:progress"


def import_run_progress(run: ImportRun) -> tuple[int, int]:
    """(rows done, rows in all) of a run: from the worker's notes while it runs, else from the run."""
    if run.status == ImportRun.Status.RUNNING:
        done, total = cache.get(progress_key(run.pk)) or [0, 0]
        return done, total
    return run.rows_done, run.rows_total


@transaction.atomic
def import_run_create(
    *,
    uploads: list[Upload],
    by: Any,
    dry_run: bool,
    accept_warnings: bool = False,
    clinic: str = "",
    date_format: str = "",
) -> ImportRun:
    """A queued run with its files; the task is queued once this transaction commits."""
    run = ImportRun.objects.create(
        by=by,
        source=ImportRun.Source.PAGE,
        status=ImportRun.Status.QUEUED,
        dry_run=dry_run,
        accept_warnings=accept_warnings,
        clinic=clinic,
        date_format=date_format,
        files=ImportRun.describe(uploads),
    )
    ImportFile.objects.bulk_create(
        ImportFile(run=run, name=u.name, filename=u.filename, content=u.content) for u in uploads
    )
    from exchange.tasks import run_import  # noqa: PLC0415 (the task module imports this one)

    transaction.on_commit(lambda: run_import.delay(run.pk))
    return run


def import_run_confirm(*, checked: ImportRun, by: Any, accept_warnings: bool) -> ImportRun:
    """The import of the files a dry run checked."""
    uploads = [Upload(f.name, f.filename, bytes(f.content)) for f in checked.uploads.all()]
    return import_run_create(
        uploads=uploads,
        by=by,
        dry_run=False,
        accept_warnings=accept_warnings,
        clinic=checked.clinic,
        date_format=checked.date_format,
    )


def import_run_execute(*, run_id: int) -> str:
    """Claim the queued run (a second delivery of the task finds it claimed), import, record."""
    if not ImportRun.objects.filter(pk=run_id, status=ImportRun.Status.QUEUED).update(status=ImportRun.Status.RUNNING):
        return "already claimed"
    run = ImportRun.objects.get(pk=run_id)
    uploads = sorted(
        (Upload(f.name, f.filename, bytes(f.content)) for f in run.uploads.all()), key=lambda u: FILES.index(u.name)
    )

    def progress(done: int, total: int) -> None:
        # Not the run's row: inside the import's transaction no other connection would see it.
        cache.set(progress_key(run_id), [done, total], timeout=6 * 3600)

    try:
        report = import_register(
            uploads,
            by=run.by,
            clinic=run.clinic or None,
            date_format=run.date_format or None,
            dry_run=run.dry_run,
            accept_warnings=run.accept_warnings,
            progress=progress,
        )
    except Exception as error:
        ImportRun.objects.filter(pk=run_id).update(
            status=ImportRun.Status.FAILED, error=f"{type(error).__name__}: {error}", finished_at=timezone.now()
        )
        raise
    ImportRun.objects.filter(pk=run_id).update(
        status=ImportRun.status_of(report),
        report=report.as_dict(),
        rows_total=report.rows,
        rows_done=report.rows,
        finished_at=timezone.now(),
    )
    if report.saved or report.errors:
        run.uploads.update(content=b"")  # the hashes stay on the run; the files' data need not
    return ImportRun.status_of(report)
