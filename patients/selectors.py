"""Reads of the clinical record (the writes are in services.py)."""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import Clinic
from patients.models import Cause, Decision, Injection, LabResult, Medication, Patient, Regimen, Site, SymptomCheck

# The clinics a read is limited to: accounts.clinics.clinics_of(user) (a queryset, so a subquery), or
# a list of clinics (the programme page's one clinic at a time). Every list of patients takes them.
Clinics = QuerySet[Clinic] | Sequence[Clinic]


def clinic_ids(clinics: Clinics | Sequence[int]) -> list[int]:
    """The clinics' ids: one query for a queryset, none for the clinics themselves or their ids (a page
    that has loaded them once, or hand-written SQL that takes them as parameters)."""
    if isinstance(clinics, QuerySet):
        return list(clinics.values_list("pk", flat=True))
    return [clinic.pk if isinstance(clinic, Clinic) else int(clinic) for clinic in clinics]


def patient_list(*, clinics: Clinics, active: bool = True) -> QuerySet[Patient]:
    return (
        Patient.objects.filter(is_active=active, clinic__in=clinics)
        .select_related("regimen__profile")
        .annotate(injection_count=Count("injections", filter=Q(injections__voided_at__isnull=True)))
        .order_by("family_name", "given_name")
    )


# Timeline ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    """One correction of an injection or a lab result, from its history."""

    when: datetime.datetime
    who: object
    reason: str
    changes: list[FieldChange]


@dataclass(frozen=True)
class TimelineEntry:
    day: datetime.date
    moment: datetime.datetime | None
    kind: str  # injection, lab, symptoms, medication, decision
    obj: Any
    corrections: tuple[Correction, ...] = ()


def patient_timeline(
    patient: Patient, corrections: Mapping[tuple[str, int], list[Correction]] | None = None
) -> list[TimelineEntry]:
    """Everything that happened to a patient loaded by `patient_chart`, newest first (no queries);
    injections and labs with their `corrections` (entry_corrections) and, when voided, who voided
    them, when and why (on the object)."""
    fixes = corrections or {}
    entries = [
        *(
            TimelineEntry(
                timezone.localdate(i.given_at), i.given_at, "injection", i, tuple(fixes.get(("injection", i.pk), ()))
            )
            for i in patient.injections.all()
        ),
        *(
            TimelineEntry(lab.collected_on, None, "lab", lab, tuple(fixes.get(("lab", lab.pk), ())))
            for lab in patient.labs.all()
        ),
        *(TimelineEntry(s.checked_on, None, "symptoms", s) for s in patient.symptom_checks.all()),
        *(TimelineEntry(m.start, None, "medication", m) for m in patient.medications.all()),
        *(TimelineEntry(timezone.localdate(d.made_at), d.made_at, "decision", d) for d in patient.decisions.all()),
    ]
    midnight = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    entries.sort(key=lambda e: (e.day, e.moment or midnight), reverse=True)
    return entries


def b12_trend(patient: Patient) -> dict[str, Any]:
    """The data of the chart's B12 plot, for json_script: values in the canonical unit (pg/mL), the
    profile's low and normal thresholds, and the injection days."""
    profile = patient.regimen.profile
    return {
        "unit": "pg/mL",
        "low_below": float(profile.b12_low_below),
        "normal_above": float(profile.b12_normal_above),
        "b12": [
            {"x": lab.collected_on.isoformat(), "y": float(lab.value_canonical)}
            for lab in patient.labs.all()
            if lab.analyte == "b12" and lab.voided_at is None
        ],
        "injections": [
            timezone.localdate(i.given_at).isoformat() for i in patient.injections.all() if i.voided_at is None
        ],
    }


# Audit history -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: object
    new: object


@dataclass
class HistoryEntry:
    when: datetime.datetime
    who: object
    record: str
    action: str
    reason: str
    changes: list[FieldChange] = field(default_factory=list)


_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
_NOT_SHOWN = {"updated_at", "created_at", "recorded_at", "entered_at", "value_canonical", "unit_canonical"}
HISTORY_LIMIT = 200


def patient_history(patient: Patient) -> list[HistoryEntry]:
    """Who changed what in the patient's record and its clinical records, newest first: one query per
    kind of record (eight), each historical row compared with the one before it."""
    sources: list[tuple[str, QuerySet[Any]]] = [
        ("Patient", Patient.history.filter(id=patient.pk)),
        ("Regimen", Regimen.history.filter(patient_id=patient.pk)),
        ("Cause", Cause.history.filter(patient_id=patient.pk)),
        ("Injection", Injection.history.filter(patient_id=patient.pk)),
        ("Lab result", LabResult.history.filter(patient_id=patient.pk)),
        ("Symptom check", SymptomCheck.history.filter(patient_id=patient.pk)),
        ("Medication", Medication.history.filter(patient_id=patient.pk)),
        ("Decision", Decision.history.filter(patient_id=patient.pk)),
    ]
    entries: list[HistoryEntry] = []
    for label, rows in sources:
        previous: dict[int, Any] = {}
        for row in rows.select_related("history_user").order_by("id", "history_date", "history_id"):
            entry = HistoryEntry(
                when=row.history_date,
                who=row.history_user,
                record=f"{label} #{row.id}",
                action=_ACTIONS.get(row.history_type, row.history_type),
                reason=row.history_change_reason or "",
            )
            before = previous.get(row.id)
            if before is not None and row.history_type == "~":
                delta = row.diff_against(before, foreign_keys_are_objs=False)
                entry.changes = [
                    FieldChange(change.field, change.old, change.new)
                    for change in delta.changes
                    if change.field not in _NOT_SHOWN
                ]
            previous[row.id] = row
            entries.append(entry)
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:HISTORY_LIMIT]


# Corrections ---------------------------------------------------------------------------------------

# Changes that are not corrections of what was recorded (voiding, confirmations, bookkeeping).
_NOT_CORRECTIONS = _NOT_SHOWN | {"confirmed_warnings", "voided_at", "voided_by", "void_reason", "submission_key"}


def _shown(value: object) -> str:
    if isinstance(value, datetime.datetime):
        return f"{timezone.localtime(value):%d %b %Y %H:%M}"
    if isinstance(value, datetime.date):
        return f"{value:%d %b %Y}"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return "" if value is None else str(value)


def entry_corrections(patient: Patient) -> dict[tuple[str, int], list[Correction]]:
    """The corrections of the patient's injections and lab results, keyed ("injection" or "lab", pk),
    oldest first, each with who, when, why and the fields it changed (from the history: two queries)."""
    found: dict[tuple[str, int], list[Correction]] = defaultdict(list)
    sources: list[tuple[str, type[Injection] | type[LabResult]]] = [("injection", Injection), ("lab", LabResult)]
    for kind, model in sources:
        previous: dict[int, Any] = {}
        rows = model.history.filter(patient_id=patient.pk).select_related("history_user")  # type: ignore[attr-defined]
        for row in rows.order_by("id", "history_date", "history_id"):
            before = previous.get(row.id)
            previous[row.id] = row
            if before is None or row.history_type != "~":
                continue
            delta = row.diff_against(before, foreign_keys_are_objs=False)
            changes = [
                FieldChange(str(model._meta.get_field(c.field).verbose_name), _shown(c.old), _shown(c.new))
                for c in delta.changes
                if c.field not in _NOT_CORRECTIONS
            ]
            if changes:
                found[(kind, row.id)].append(
                    Correction(row.history_date, row.history_user, row.history_change_reason or "", changes)
                )
    return dict(found)


# Injections ----------------------------------------------------------------------------------------

_OTHER_SIDE = {
    Site.LEFT_DELTOID: Site.RIGHT_DELTOID,
    Site.RIGHT_DELTOID: Site.LEFT_DELTOID,
    Site.LEFT_THIGH: Site.RIGHT_THIGH,
    Site.RIGHT_THIGH: Site.LEFT_THIGH,
    Site.LEFT_GLUTEAL: Site.RIGHT_GLUTEAL,
    Site.RIGHT_GLUTEAL: Site.LEFT_GLUTEAL,
}


def injection_defaults(*, patient: Patient, user: AbstractBaseUser, now: datetime.datetime) -> dict[str, Any]:
    """What the injection form starts with: the regimen's drug and dose, the patient's last route and
    the other side from the last site, and the lot this user used last (unless it has expired)."""
    profile = patient.regimen.profile
    last = patient.injections.filter(voided_at__isnull=True).order_by("-given_at").first()
    mine = Injection.objects.filter(given_by=user, voided_at__isnull=True).order_by("-created_at", "-pk").first()
    today = timezone.localdate(now)
    defaults: dict[str, Any] = {
        "given_at": timezone.localtime(now).replace(second=0, microsecond=0),
        "drug": profile.drug,
        "dose_mcg": profile.dose_mcg,
        "route": last.route if last else Injection.Route.IM,
        "site": _OTHER_SIDE.get(last.site, Site.LEFT_DELTOID) if last else Site.LEFT_DELTOID,
        "submission_key": uuid.uuid4(),
    }
    if mine is not None and mine.lot_expiry >= today:
        defaults.update(lot_number=mine.lot_number, lot_expiry=mine.lot_expiry)
    return defaults


# Registration --------------------------------------------------------------------------------------


def patients_like(*, given_name: str, family_name: str, birth_date: datetime.date, clinics: Clinics) -> list[Patient]:
    """Patients of `clinics` with the same name (any case, spaces trimmed) and birth date: a possible
    duplicate. Only the clinics the user may see: another clinic's patient is not shown, even by name."""
    return list(
        Patient.objects.filter(
            given_name__iexact=given_name.strip(),
            family_name__iexact=family_name.strip(),
            birth_date=birth_date,
            clinic__in=clinics,
        ).order_by("pk")
    )
