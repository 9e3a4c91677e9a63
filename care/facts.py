"""Loading: the engine's facts for a set of patients, read from the clinical record. Entries marked
entered in error (voided) are not facts: the engine never sees them."""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from decimal import Decimal

from django.db import connection
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
_PATIENT_COLUMNS = (
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
)


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
    ).values_list(*_PATIENT_COLUMNS):
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


# The bulk loader: the same facts, read as one JSON array a patient and table -------------------------

_INJECTIONS_SQL = """
    SELECT patient_id, json_agg(json_build_array((given_at AT TIME ZONE %s)::date, drug, dose_mcg))::text
    FROM {table} WHERE patient_id BETWEEN %s AND %s AND patient_id = ANY(%s) AND voided_at IS NULL GROUP BY patient_id
"""
_LABS_SQL = """
    SELECT patient_id, json_agg(json_build_array(collected_on, analyte, value_entered::text, unit_entered))::text
    FROM {table} WHERE patient_id BETWEEN %s AND %s AND patient_id = ANY(%s) AND voided_at IS NULL AND analyte = ANY(%s)
    GROUP BY patient_id
"""
_SYMPTOMS_SQL = """
    SELECT patient_id, json_agg(json_build_array(checked_on, neurological, depression))::text
    FROM {table} WHERE patient_id BETWEEN %s AND %s AND patient_id = ANY(%s) GROUP BY patient_id
"""


def facts_by_patient_bulk(patient_ids: list[int], *, as_of: datetime.date) -> dict[int, Facts]:
    """`facts_by_patient`, faster for a long run of patient ids (the protocol change preview).

    On PostgreSQL the many-row tables (injections, labs, symptom checks) come back as one JSON text a
    patient, built by the server (the ids as one array parameter within their range, not a list of
    parameters) and parsed by json.loads in C, instead of one Python row a fact. The result is the same (tests/protocols/test_profile_preview.py compares
    the two on every kind of fact); other databases get facts_by_patient itself."""
    if connection.vendor != "postgresql" or not patient_ids:
        return facts_by_patient(patient_ids, as_of=as_of)
    wanted = set(patient_ids)
    first, last = min(patient_ids), max(patient_ids)
    zone = timezone.get_current_timezone_name()
    loads, day = json.loads, datetime.date.fromisoformat

    def aggregated(sql: str, model: type, params: list[object]) -> dict[int, list[list[object]]]:
        with connection.cursor() as cursor:
            cursor.execute(sql.format(table=model._meta.db_table), params)
            return {pid: loads(text) for pid, text in cursor.fetchall() if pid in wanted}

    injections = {
        pid: tuple(InjectionFact(day(d), drug, dose) for d, drug, dose in rows)
        for pid, rows in aggregated(_INJECTIONS_SQL, Injection, [zone, first, last, patient_ids]).items()
    }
    exact = units.to_canonical_exact
    labs = {
        pid: tuple(
            LabFact(day(d), analyte, exact(analyte, entered, unit), Decimal(entered), unit)
            for d, analyte, entered, unit in rows
        )
        for pid, rows in aggregated(_LABS_SQL, LabResult, [first, last, patient_ids, list(ANALYTES_READ)]).items()
    }
    symptoms = {
        pid: tuple(SymptomFact(day(d), neuro, depression) for d, neuro, depression in rows)
        for pid, rows in aggregated(_SYMPTOMS_SQL, SymptomCheck, [first, last, patient_ids]).items()
    }
    in_range = {"patient_id__gte": first, "patient_id__lte": last}
    causes: dict[int, list[CauseFact]] = defaultdict(list)
    for pid, kind, length, procedure, start, stop, note in Cause.objects.filter(**in_range).values_list(
        "patient_id", "kind", "length_cm", "procedure", "start", "stop", "note"
    ):
        causes[pid].append(CauseFact(kind, length, procedure or None, start, stop, note))
    medications: dict[int, list[MedicationFact]] = defaultdict(list)
    for pid, name, start, stop in Medication.objects.filter(**in_range).values_list(
        "patient_id", "name", "start", "stop"
    ):
        medications[pid].append(MedicationFact(name, start, stop))

    facts = {}
    for pid, birth, neuro, pregnancy, intake, slug, months, days, recheck_on, oral_since in Patient.objects.filter(
        pk__gte=first, pk__lte=last
    ).values_list(*_PATIENT_COLUMNS):
        if pid not in wanted:
            continue
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
            injections=injections.get(pid, ()),
            labs=labs.get(pid, ()),
            symptoms=symptoms.get(pid, ()),
            medications=tuple(medications[pid]),
        )
    return facts
