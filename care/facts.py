"""Loading: the engine's facts for a set of patients, read from the clinical record. Entries marked
entered in error (voided) are not facts: the engine never sees them."""

from __future__ import annotations

import datetime
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

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
_Fact = TypeVar("_Fact")
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
    causes = _causes(patient_id__in=patient_ids)
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
    medications = _medications(patient_id__in=patient_ids)
    rows = Patient.objects.filter(pk__in=patient_ids).values_list(*_PATIENT_COLUMNS)
    return _assemble(as_of, rows, causes, injections, labs, symptoms, medications)


def _causes(**patients: object) -> dict[int, list[CauseFact]]:
    causes: dict[int, list[CauseFact]] = defaultdict(list)
    for pid, kind, length, procedure, start, stop, note in Cause.objects.filter(**patients).values_list(
        "patient_id", "kind", "length_cm", "procedure", "start", "stop", "note"
    ):
        causes[pid].append(CauseFact(kind, length, procedure or None, start, stop, note))
    return causes


def _medications(**patients: object) -> dict[int, list[MedicationFact]]:
    medications: dict[int, list[MedicationFact]] = defaultdict(list)
    for pid, name, start, stop in Medication.objects.filter(**patients).values_list(
        "patient_id", "name", "start", "stop"
    ):
        medications[pid].append(MedicationFact(name, start, stop))
    return medications


def _assemble(
    as_of: datetime.date,
    patient_rows: Iterable[tuple[Any, ...]],
    causes: Mapping[int, Sequence[CauseFact]],
    injections: Mapping[int, Sequence[InjectionFact]],
    labs: Mapping[int, Sequence[LabFact]],
    symptoms: Mapping[int, Sequence[SymptomFact]],
    medications: Mapping[int, Sequence[MedicationFact]],
) -> dict[int, Facts]:
    """Each patient's Facts from their row (_PATIENT_COLUMNS) and their facts by patient id."""
    facts = {}
    for pid, birth, neuro, pregnancy, intake, slug, months, days, recheck_on, oral_since in patient_rows:
        facts[pid] = Facts(
            as_of=as_of,
            patient=PatientFacts(birth, tuple(causes.get(pid, ())), neuro, pregnancy, _DIETARY_INTAKE.get(intake)),
            regimen=RegimenFacts(
                slug or DEFAULT_PROFILE_SLUG,
                maintenance_interval_months=months,
                oral_since=oral_since,
                maintenance_interval_days=days,
                recheck_on=recheck_on,
            ),
            injections=tuple(injections.get(pid, ())),
            labs=tuple(labs.get(pid, ())),
            symptoms=tuple(symptoms.get(pid, ())),
            medications=tuple(medications.get(pid, ())),
        )
    return facts


# The bulk loader: the same facts, read as one text a patient and table ------------------------------
# Every field aggregated here is a date, a number, a choice's code or a unit symbol the database
# checks (labresult_unit...), so "|" and ";" cannot occur inside one. Causes (free-text notes),
# medications and the patients themselves are few rows and are read as usual.

_INJECTIONS_SQL = """
    SELECT patient_id, string_agg(concat((given_at AT TIME ZONE %s)::date, '|', drug, '|', dose_mcg), ';')
    FROM {table} WHERE patient_id BETWEEN %s AND %s AND patient_id = ANY(%s) AND voided_at IS NULL
    GROUP BY patient_id
"""
_LABS_SQL = """
    SELECT patient_id, string_agg(concat(collected_on, '|', analyte, '|', value_entered, '|', unit_entered), ';')
    FROM {table} WHERE patient_id BETWEEN %s AND %s AND patient_id = ANY(%s) AND voided_at IS NULL
        AND analyte = ANY(%s)
    GROUP BY patient_id
"""
_SYMPTOMS_SQL = """
    SELECT patient_id, string_agg(concat(checked_on, '|', neurological::int, '|', depression::int), ';')
    FROM {table} WHERE patient_id BETWEEN %s AND %s AND patient_id = ANY(%s) GROUP BY patient_id
"""


# Days and lab values repeat from patient to patient (five years are some 1,800 days; a B12 of 412
# pg/mL is common) while whole facts rarely do for labs: each is parsed, and converted, once a process.
_day = functools.lru_cache(maxsize=16384)(datetime.date.fromisoformat)


@functools.lru_cache(maxsize=65536)
def _lab_value(analyte: str, entered: str, unit: str) -> tuple[Decimal, Decimal]:
    """(the value as entered, its exact canonical value)."""
    value = Decimal(entered)
    return value, units.to_canonical_exact(analyte, value, unit)


def _injection(item: str) -> InjectionFact:
    day, drug, dose = item.split("|")
    return InjectionFact(_day(day), drug, int(dose))


def _lab(item: str) -> LabFact:
    day, analyte, entered, unit = item.split("|")
    value, canonical = _lab_value(analyte, entered, unit)
    return LabFact(_day(day), analyte, canonical, value, unit)


def _symptom(item: str) -> SymptomFact:
    day, neurological, depression = item.split("|")
    return SymptomFact(_day(day), neurological == "1", depression == "1")


class FactCache:
    """Facts are frozen values and many patients share the same one (an injection of 1000 mcg on a
    given day, a symptom check on a day): each distinct one is built once. Keep one for a whole run."""

    def __init__(self) -> None:
        self.made: dict[str, object] = {}

    def facts(self, text: str, make: Callable[[str], _Fact]) -> tuple[_Fact, ...]:
        made, found = self.made, []
        for item in text.split(";"):
            fact = made.get(item)
            if fact is None:
                fact = made[item] = make(item)
            found.append(fact)
        return tuple(found)  # type: ignore[arg-type]


@dataclass(frozen=True)
class BulkRows:
    """What the bulk loader reads for some patients, before the facts are built from it: the queries'
    part (`bulk_rows`), which can run on another connection while the previous chunk is evaluated."""

    patient_ids: list[int]
    injections: list[tuple[int, str]] = field(default_factory=list)  # (patient id, aggregated text)
    labs: list[tuple[int, str]] = field(default_factory=list)
    symptoms: list[tuple[int, str]] = field(default_factory=list)
    causes: dict[int, list[CauseFact]] = field(default_factory=dict)
    medications: dict[int, list[MedicationFact]] = field(default_factory=dict)
    patients: list[tuple[Any, ...]] = field(default_factory=list)  # _PATIENT_COLUMNS


def bulk_rows(patient_ids: list[int]) -> BulkRows:
    """The queries of `facts_by_patient_bulk` (PostgreSQL): the many-row tables aggregated by the
    server into one text a patient (the ids as one array parameter within their range, not a list of
    parameters), causes, medications and the patients themselves as usual."""
    if not patient_ids:
        return BulkRows(patient_ids)
    first, last = min(patient_ids), max(patient_ids)

    def aggregated(sql: str, model: type, params: list[object]) -> list[tuple[int, str]]:
        with connection.cursor() as cursor:
            cursor.execute(sql.format(table=model._meta.db_table), params)
            return cursor.fetchall()

    zone = timezone.get_current_timezone_name()
    return BulkRows(
        patient_ids,
        injections=aggregated(_INJECTIONS_SQL, Injection, [zone, first, last, patient_ids]),
        labs=aggregated(_LABS_SQL, LabResult, [first, last, patient_ids, list(ANALYTES_READ)]),
        symptoms=aggregated(_SYMPTOMS_SQL, SymptomCheck, [first, last, patient_ids]),
        causes=_causes(patient_id__gte=first, patient_id__lte=last),
        medications=_medications(patient_id__gte=first, patient_id__lte=last),
        patients=list(Patient.objects.filter(pk__gte=first, pk__lte=last).values_list(*_PATIENT_COLUMNS)),
    )


def facts_from_rows(rows: BulkRows, *, as_of: datetime.date, cache: FactCache | None = None) -> dict[int, Facts]:
    """Each patient's Facts from what `bulk_rows` read, each distinct fact built once (`cache`)."""
    cache = cache or FactCache()
    wanted = set(rows.patient_ids)

    def built(found: list[tuple[int, str]], make: Callable[[str], _Fact]) -> dict[int, tuple]:
        return {pid: cache.facts(text, make) for pid, text in found if pid in wanted}

    # Lab results almost never repeat whole (a date and a value: 184,000 distinct among 184,000 on the
    # bench's 20,000 patients), so they are built without the cache, which would only hold them all
    # for the run (some 300 MB at 100,000 patients); their days and values are memoised (`_lab`).
    labs = {pid: tuple(map(_lab, text.split(";"))) for pid, text in rows.labs if pid in wanted}

    return _assemble(
        as_of,
        (row for row in rows.patients if row[0] in wanted),
        rows.causes,
        built(rows.injections, _injection),
        labs,
        built(rows.symptoms, _symptom),
        rows.medications,
    )


def facts_by_patient_bulk(
    patient_ids: list[int], *, as_of: datetime.date, cache: FactCache | None = None
) -> dict[int, Facts]:
    """`facts_by_patient`, faster for many patients (the daily refresh, the protocol change preview).

    On PostgreSQL the many-row tables (injections, labs, symptom checks) come back as one text a
    patient, aggregated by the server (`bulk_rows`), and each distinct fact is built once (`cache`,
    shared across the chunks of a run), instead of one Python row and one object a fact. The result is
    the same (tests/protocols/test_profile_preview.py compares the two on every kind of fact); other
    databases get facts_by_patient itself."""
    if connection.vendor != "postgresql" or not patient_ids:
        return facts_by_patient(patient_ids, as_of=as_of)
    return facts_from_rows(bulk_rows(patient_ids), as_of=as_of, cache=cache)
