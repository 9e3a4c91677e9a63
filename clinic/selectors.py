"""Reads that span the layers below: the patient chart (record, care status and its alerts,
decisions, the explanation, reminders). The worklist, dashboard and search are care.selectors."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from patients.models import Decision, Injection, LabResult, Medication, Patient, SymptomCheck


def patient_chart_queryset() -> QuerySet[Patient]:
    """Patients with everything the chart shows, in a fixed number of queries."""
    return Patient.objects.select_related(
        "clinic", "regimen__profile", "regimen__interval_set_by", "care_status__profile"
    ).prefetch_related(
        "causes",
        "care_alerts",
        "labs_not_drawn",
        Prefetch("injections", queryset=Injection.objects.select_related("given_by", "voided_by").order_by("given_at")),
        Prefetch(
            "labs",
            queryset=LabResult.objects.select_related("entered_by", "voided_by").order_by("collected_on", "pk"),
        ),
        Prefetch("symptom_checks", queryset=SymptomCheck.objects.select_related("recorded_by")),
        Prefetch("medications", queryset=Medication.objects.select_related("recorded_by")),
        Prefetch("decisions", queryset=Decision.objects.select_related("made_by")),
    )
