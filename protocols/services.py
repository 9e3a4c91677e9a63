"""The imperative shell around the engine: load a patient's facts, evaluate, store the care status.

`care_status_refresh` runs inside the caller's transaction (patients.services calls it after every
change the engine reads), so a saved injection and the due date it moves commit together.
`care_status_refresh_all` is the daily pass that makes date-driven alerts (overdue) appear without
anyone touching the record. `patient_explanation` says why, rule by rule.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from patients.models import Cause, Injection, LabResult, Medication, Patient, SymptomCheck
from protocols.engine.evaluate import Evaluation, evaluate
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
from protocols.engine.profiles import DEFAULT_PROFILE_SLUG, Profile
from protocols.engine.rules import RULES, SEVERITY_ORDER
from protocols.models import CareAlert, CareStatus, ProtocolProfile, Severity
from protocols.selectors import profile_to_engine

_DIETARY_INTAKE = {"yes": True, "no": False}
_SEVERITY = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "info": Severity.INFO}
_STATUS_FIELDS = [
    "patient_active",
    "fingerprint",
    "profile",
    "profile_version",
    "as_of",
    "evaluated_at",
    "phase",
    "loading_doses_given",
    "maintenance_interval_months",
    "suggested_interval_months",
    "maintenance_start",
    "next_injection_due",
    "next_recheck_due",
    "recheck_labs",
    "verdict",
    "verdict_rules",
    "verdict_unmet",
    "alerts",
    "alert_rules",
    "highest_severity",
    "rules",
    "because",
    "latest_b12",
    "latest_b12_category",
]


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
        Injection.objects.filter(patient_id__in=patient_ids)
        .annotate(day=TruncDate("given_at", tzinfo=zone))
        .values_list("patient_id", "day", "drug", "dose_mcg")
    ):
        injections[pid].append(InjectionFact(day, drug, dose))
    labs: dict[int, list[LabFact]] = defaultdict(list)
    for pid, day, analyte, value in LabResult.objects.filter(
        patient_id__in=patient_ids, analyte__in=ANALYTES_READ
    ).values_list("patient_id", "collected_on", "analyte", "value_canonical"):
        labs[pid].append(LabFact(day, analyte, value))
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
    for pid, birth, neuro, pregnancy, intake, slug, override, oral_since in Patient.objects.filter(
        pk__in=patient_ids
    ).values_list(
        "pk",
        "birth_date",
        "neurological_involvement",
        "pregnancy",
        "dietary_intake_adequate",
        "regimen__profile__slug",
        "regimen__maintenance_interval_months",
        "regimen__oral_since",
    ):
        facts[pid] = Facts(
            as_of=as_of,
            patient=PatientFacts(birth, tuple(causes[pid]), neuro, pregnancy, _DIETARY_INTAKE.get(intake)),
            regimen=RegimenFacts(slug or DEFAULT_PROFILE_SLUG, override, oral_since),
            injections=tuple(injections[pid]),
            labs=tuple(labs[pid]),
            symptoms=tuple(symptoms[pid]),
            medications=tuple(medications[pid]),
        )
    return facts


class _Profiles:
    """Engine profiles by slug, loaded once per refresh."""

    def __init__(self) -> None:
        self.rows = {row.slug: row for row in ProtocolProfile.objects.all()}
        self.engine = {slug: profile_to_engine(row) for slug, row in self.rows.items()}

    def for_facts(self, facts: Facts) -> tuple[ProtocolProfile, Profile]:
        slug = facts.regimen.profile
        return self.rows[slug], self.engine[slug]


def _fingerprint(values: dict[str, object]) -> str:
    """A digest of everything a care status says except when it was computed: equal digests, equal
    statuses, so the daily refresh rewrites only the rows that changed."""
    said = {key: value for key, value in values.items() if key not in ("as_of", "evaluated_at", "fingerprint")}
    said["profile"] = values["profile"].pk  # type: ignore[attr-defined]
    return hashlib.blake2b(json.dumps(said, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


def _status_values(
    evaluation: Evaluation, profile_row: ProtocolProfile, now: datetime.datetime, previous_alerts: list[dict] | None
) -> dict[str, object]:
    # Each alert keeps the date it has been active since, across refreshes, so an acknowledgement can
    # hide it while it stays active and a fresh occurrence shows again.
    was_since = {alert["rule"]: alert.get("since") for alert in previous_alerts or ()}
    today = evaluation.as_of.isoformat()
    alerts = [{**alert.to_dict(), "since": was_since.get(alert.rule) or today} for alert in evaluation.alerts]
    highest = max((_SEVERITY[a["severity"]] for a in alerts), default=Severity.NONE)
    return {
        "profile": profile_row,
        "profile_version": evaluation.profile_version,
        "as_of": evaluation.as_of,
        "evaluated_at": now,
        "phase": evaluation.phase,
        "loading_doses_given": evaluation.loading_doses_given,
        "maintenance_interval_months": evaluation.maintenance_interval_months,
        "suggested_interval_months": evaluation.suggested_interval_months,
        "maintenance_start": evaluation.maintenance_start,
        "next_injection_due": evaluation.next_injection_due,
        "next_recheck_due": evaluation.next_recheck_due,
        "recheck_labs": list(evaluation.recheck_labs),
        "verdict": evaluation.discontinuation.verdict,
        "verdict_rules": list(evaluation.discontinuation.rules),
        "verdict_unmet": list(evaluation.discontinuation.unmet),
        "alerts": alerts,
        "alert_rules": "".join(f",{a['rule']}" for a in alerts) + ("," if alerts else ""),
        "highest_severity": highest,
        "rules": list(evaluation.rules),
        "because": {key: list(value) for key, value in evaluation.because.items()},
        "latest_b12": evaluation.latest_b12,
        "latest_b12_category": evaluation.latest_b12_category or "",
    }


# Patient ids whose refresh waits for the end of a `care_status_refresh_deferred()` block.
_deferred: ContextVar[set[int] | None] = ContextVar("care_status_deferred", default=None)


@contextmanager
def care_status_refresh_deferred() -> Iterator[None]:
    """Refresh each patient touched inside the block once, when it ends, instead of after every write.

    For batches (the demo seed, imports) that write many facts of one patient. Put it inside the
    batch's transaction so the statuses still commit with the facts; nothing is refreshed when the
    block raises (the transaction is rolled back anyway)."""
    if _deferred.get() is not None:  # nested: the outer block refreshes
        yield
        return
    pending: set[int] = set()
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
    if pending:
        care_status_refresh_all(patients=Patient.objects.filter(pk__in=pending))


@transaction.atomic
def care_status_refresh(*, patient: Patient, today: datetime.date | None = None) -> CareStatus | None:
    """Re-evaluate one patient and store the result, inside the caller's transaction (or, inside
    `care_status_refresh_deferred()`, note the patient for the refresh at the end of that block)."""
    pending = _deferred.get()
    if pending is not None:
        pending.add(patient.pk)
        return None
    _refresh([patient.pk], as_of=today or timezone.localdate(), profiles=_Profiles(), now=timezone.now())
    return CareStatus.objects.get(patient_id=patient.pk)


@dataclass(frozen=True)
class RefreshSummary:
    patients: int
    alerts: int


def _refresh(ids: list[int], *, as_of: datetime.date, profiles: _Profiles, now: datetime.datetime) -> int:
    """Evaluate these patients and upsert their care statuses; returns the number of alerts."""
    previous = {
        pid: (alerts, fingerprint)
        for pid, alerts, fingerprint in CareStatus.objects.filter(patient_id__in=ids).values_list(
            "patient_id", "alerts", "fingerprint"
        )
    }
    inactive = set(Patient.objects.filter(pk__in=ids, is_active=False).values_list("pk", flat=True))
    rows, unchanged, alerts = [], [], 0
    for pid, facts in facts_by_patient(ids, as_of=as_of).items():
        profile_row, profile = profiles.for_facts(facts)
        before = previous.get(pid)
        values = _status_values(evaluate(facts, profile), profile_row, now, before[0] if before else None)
        values["patient_active"] = pid not in inactive
        values["fingerprint"] = _fingerprint(values)
        alerts += len(values["alerts"])  # type: ignore[arg-type]
        if before and before[1] == values["fingerprint"]:
            unchanged.append(pid)  # most statuses on most days: only the evaluation date moves
        else:
            rows.append(CareStatus(patient_id=pid, **values))
    if unchanged:
        CareStatus.objects.filter(patient_id__in=unchanged).update(as_of=as_of, evaluated_at=now)
    if not rows:
        return alerts
    CareStatus.objects.bulk_create(rows, update_conflicts=True, unique_fields=["patient"], update_fields=_STATUS_FIELDS)
    CareAlert.objects.filter(patient_id__in=[row.patient_id for row in rows]).delete()
    CareAlert.objects.bulk_create(
        CareAlert(
            patient_id=row.patient_id,
            rule=alert["rule"],
            severity=_SEVERITY[alert["severity"]],
            since=datetime.date.fromisoformat(alert["since"]),
            message=alert["message"],
        )
        for row in rows
        if row.patient_active
        for alert in row.alerts
    )
    return alerts


def care_status_refresh_all(
    *, today: datetime.date | None = None, patients: QuerySet[Patient] | None = None, chunk_size: int = 1000
) -> RefreshSummary:
    """Re-evaluate every active patient (or `patients`) and upsert their care statuses in bulk.

    Each chunk is its own transaction: a refresh of 100,000 patients does not hold one long lock,
    and a crash halfway leaves every stored status consistent with the facts it was computed from."""
    as_of = today or timezone.localdate()
    queryset = patients if patients is not None else Patient.objects.filter(is_active=True)
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    profiles, now = _Profiles(), timezone.now()
    alerts = 0
    for start in range(0, len(ids), chunk_size):
        with transaction.atomic():
            alerts += _refresh(ids[start : start + chunk_size], as_of=as_of, profiles=profiles, now=now)
    return RefreshSummary(patients=len(ids), alerts=alerts)


def care_status_refresh_stale(*, today: datetime.date | None = None) -> RefreshSummary:
    """Refresh every active patient whose care status is missing or was evaluated before `today`."""
    as_of = today or timezone.localdate()
    stale = Patient.objects.filter(is_active=True).filter(Q(care_status__isnull=True) | Q(care_status__as_of__lt=as_of))
    return care_status_refresh_all(today=as_of, patients=stale)


@transaction.atomic
def protocol_profile_save(*, profile: ProtocolProfile, today: datetime.date | None = None) -> ProtocolProfile:
    """Save a clinic admin's change to a profile as a new version, and re-evaluate its patients.

    The version goes up by one on every change; the historical row of each version is kept, so a
    stored care status always names the exact settings that produced it."""
    profile.full_clean()
    if profile.pk is not None:
        profile.version = ProtocolProfile.objects.select_for_update().get(pk=profile.pk).version + 1
    profile.save()
    care_status_refresh_all(today=today, patients=Patient.objects.filter(regimen__profile=profile))
    return profile


# --- Explanation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleReason:
    id: str
    text: str
    source: str


@dataclass(frozen=True)
class ExplainedResult:
    name: str
    label: str
    value: object
    rules: tuple[RuleReason, ...]


_EXPLAINED = (
    ("phase", "Phase"),
    ("next_injection_due", "Next injection due"),
    ("maintenance_interval_months", "Maintenance interval (months)"),
    ("suggested_interval_months", "The protocol's own interval (months)"),
    ("next_recheck_due", "Next lab recheck due"),
    ("recheck_labs", "Labs to draw at the recheck"),
    ("discontinuation", "May injections ever stop?"),
)


def _reasons(rule_ids: Iterable[str]) -> tuple[RuleReason, ...]:
    return tuple(RuleReason(rule_id, RULES[rule_id].text, RULES[rule_id].source) for rule_id in rule_ids)


def care_status_explanation(status: CareStatus) -> list[ExplainedResult]:
    """Each stored result with the rules behind it (their plain-language text and source), then each
    alert with its rule. This is what the patient chart shows under "Why?"."""
    values: dict[str, object] = {
        "phase": status.phase,
        "next_injection_due": status.next_injection_due,
        "maintenance_interval_months": status.maintenance_interval_months,
        "suggested_interval_months": status.suggested_interval_months,
        "next_recheck_due": status.next_recheck_due,
        "recheck_labs": status.recheck_labs,
        "discontinuation": status.verdict,
    }
    explained = [
        ExplainedResult(name, label, values[name], _reasons(status.because.get(name, ())))
        for name, label in _EXPLAINED
        if name in status.because
    ]
    for alert in sorted(status.alerts, key=lambda a: SEVERITY_ORDER[a["severity"]]):
        explained.append(
            ExplainedResult(
                f"alert:{alert['rule']}", f"Alert ({alert['severity']})", alert["message"], _reasons([alert["rule"]])
            )
        )
    return explained
