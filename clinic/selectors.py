"""Reads that span the layers below: the patient chart (record, care status and its alerts,
decisions, the explanation, reminders). The worklist, dashboard and search are care.selectors."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from django.db.models import Prefetch, QuerySet

from outreach.models import Appointment, ContactAttempt
from patients.models import Decision, Injection, LabResult, Medication, Patient, SymptomCheck
from patients.selectors import Correction, TimelineEntry, patient_timeline


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
        Prefetch("contact_attempts", queryset=ContactAttempt.objects.select_related("by")),
        Prefetch("appointments", queryset=Appointment.objects.select_related("booked_by")),
    )


def chart_timeline(
    patient: Patient, corrections: Mapping[tuple[str, int], list[Correction]] | None = None
) -> list[TimelineEntry]:
    """The record's timeline (patients.selectors.patient_timeline) with every call to bring the patient
    back ("contact") and every appointment ("appointment", on its day at the clinic), newest first.
    No queries beyond patient_chart_queryset's."""
    zone = patient.clinic.zone
    entries = [
        *patient_timeline(patient, corrections),
        *(TimelineEntry(c.at.astimezone(zone).date(), c.at, "contact", c) for c in patient.contact_attempts.all()),
        *(
            TimelineEntry(a.starts_at.astimezone(zone).date(), a.starts_at, "appointment", a)
            for a in patient.appointments.all()
        ),
    ]
    midnight = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    entries.sort(key=lambda e: (e.day, e.moment or midnight), reverse=True)
    return entries
