"""Reads of the clinical record (the writes are in services.py)."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from patients.models import Patient


def patient_list(*, active: bool = True) -> QuerySet[Patient]:
    return (
        Patient.objects.filter(is_active=active)
        .select_related("regimen__profile")
        .annotate(injection_count=Count("injections"))
        .order_by("family_name", "given_name")
    )


def patient_chart(*, patient_id: int) -> Patient:
    """One patient with everything the chart shows, in a fixed number of queries."""
    return (
        Patient.objects.select_related("regimen__profile", "regimen__interval_set_by")
        .prefetch_related("causes", "injections__given_by", "labs", "symptom_checks", "medications")
        .get(pk=patient_id)
    )
