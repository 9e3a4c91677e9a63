"""Reads of the reminder outbox: the reminders page, the chart's reminder history, the failed count."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from patients.models import Patient
from patients.selectors import Clinics
from reminders.models import Reminder, ReminderEvent, Status


def reminders_failed_count(*, clinics: Clinics) -> int:
    """Reminders of `clinics`' patients that failed for good: the dashboard shows a banner while there
    are any."""
    return Reminder.objects.filter(status=Status.FAILED, patient__clinic__in=clinics).count()


def reminder_status_counts(*, clinics: Clinics) -> dict[str, int]:
    """Rows of `clinics`' patients per status, every status present (0 when none)."""
    rows = Reminder.objects.filter(patient__clinic__in=clinics)
    counts = dict(rows.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in Status.values}


def _with_history(queryset: QuerySet[Reminder]) -> QuerySet[Reminder]:
    return queryset.prefetch_related(Prefetch("events", queryset=ReminderEvent.objects.order_by("at", "pk")))


def reminders_for_patient(patient: Patient) -> QuerySet[Reminder]:
    """A patient's reminders, newest first, each with its history (for the chart)."""
    return _with_history(Reminder.objects.filter(patient=patient)).order_by("-created_at", "-pk")


def reminders_page(*, clinics: Clinics, status: str | None = None, limit: int = 200) -> list[Reminder]:
    """The staff page's rows: the latest `limit` of `clinics`' patients, optionally of one status, with
    patient and history."""
    queryset = Reminder.objects.filter(patient__clinic__in=clinics).select_related("patient")
    if status in Status.values:
        queryset = queryset.filter(status=status)
    return list(_with_history(queryset).order_by("-updated_at", "-pk")[:limit])
