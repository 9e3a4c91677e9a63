"""Loading: the engine's facts for a set of patients, read from the clinical record. Entries marked
entered in error (voided) are not facts: the engine never sees them."""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.db.models.functions import TruncDate
from django.utils import timezone

from patients.models import Cause, Injection, LabResult, Medication, Patient, SymptomCheck
from protocols.engine import units
from protocols.engine.facts import (
    ANALYTES_READ,
    CauseFact,
    Facts,
    InjectionFact,
    LabFact,
    MedicationFact,
    PatientFacts,
    RegimenFacts,
    SymptomFact,
)
from protocols.engine.profiles import DEFAULT_PROFILE_SLUG

_DIETARY_INTAKE = {"yes": True, "no": False}


def facts_by_patient(patient_ids: list[int], *, as_of: datetime.date) -> dict[int, Facts]:
    """The engine's facts for each patient, read as plain tuples: one query per table for any number
    of patients (the daily refresh reads a million rows this way without building model objects)."""
    zone = timezone.get_current_timezone()
    causes: dict[int, list[CauseFact]] = defaultdict(list)
    for pid, kind, length, procedure, start, stop, note in Cause.objects.filter(patient_id__in=patient_ids).values_list(
        "patient_id", "kind", "length_cm", "procedure", "start", "stop", "note"
    ):
        causes[pid].append(CauseFact(kind, length, procedure or None, start, stop, note))
    injections: dict[int, list[InjectionFact]] = defaultdict(list)
    # The clinic's calendar day of each injection (not UTC's), computed by the database.
    for pid, day, drug, dose in (
        Injection.objects.filter(patient_id__in=patient_ids, voided_at__isnull=True)
        .annotate(day=TruncDate("given_at", tzinfo=zone))
        .values_list("patient_id", "day", "drug", "dose_mcg")
    ):
        injections[pid].append(InjectionFact(day, drug, dose))
    labs: dict[int, list[LabFact]] = defaultdict(list)
    # The exact canonical value, from the value and unit as entered: the stored canonical value is
    # rounded to 4 decimals (179.99999 pg/mL entered in pmol/L must stay low, not become 180).
    for pid, day, analyte, entered, unit in LabResult.objects.filter(
        patient_id__in=patient_ids, analyte__in=ANALYTES_READ, voided_at__isnull=True
    ).values_list("patient_id", "collected_on", "analyte", "value_entered", "unit_entered"):
        labs[pid].append(LabFact(day, analyte, units.to_canonical_exact(analyte, entered, unit), entered, unit))
    symptoms: dict[int, list[SymptomFact]] = defaultdict(list)
    for pid, day, neurological, depression in SymptomCheck.objects.filter(patient_id__in=patient_ids).values_list(
        "patient_id", "checked_on", "neurological", "depression"
    ):
        symptoms[pid].append(SymptomFact(day, neurological, depression))
    medications: dict[int, list[MedicationFact]] = defaultdict(list)
    for pid, name, start, stop in Medication.objects.filter(patient_id__in=patient_ids).values_list(
        "patient_id", "name", "start", "stop"
    ):
        medications[pid].append(MedicationFact(name, start, stop))

    facts = {}
    for pid, birth, neuro, pregnancy, intake, slug, months, days, recheck_on, oral_since in Patient.objects.filter(
        pk__in=patient_ids
    ).values_list(
        "pk",
        "birth_date",
        "neurological_involvement",
        "pregnancy",
        "dietary_intake_adequate",
        "regimen__profile__slug",
        "regimen__maintenance_interval_months",
        "regimen__maintenance_interval_days",
        "regimen__recheck_on",
        "regimen__oral_since",
    ):
        facts[pid] = Facts(
            as_of=as_of,
            patient=PatientFacts(birth, tuple(causes[pid]), neuro, pregnancy, _DIETARY_INTAKE.get(intake)),
            regimen=RegimenFacts(
                slug or DEFAULT_PROFILE_SLUG,
                maintenance_interval_months=months,
                oral_since=oral_since,
                maintenance_interval_days=days,
                recheck_on=recheck_on,
            ),
            injections=tuple(injections[pid]),
            labs=tuple(labs[pid]),
            symptoms=tuple(symptoms[pid]),
            medications=tuple(medications[pid]),
        )
    return facts
