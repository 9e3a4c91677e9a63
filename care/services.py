"""Storage: evaluate patients and store their care status and alerts.

`care_status_refresh` runs inside the caller's transaction (the application layer, clinic.actions,
calls it after every change the engine reads), so a saved injection and the due date it moves commit
together. `care_status_refresh_all` is the daily pass that makes date-driven alerts (overdue) appear
without anyone touching the record. Loading the facts is care.facts; saying why is care.explanation.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from care.facts import facts_by_patient, facts_by_patient_bulk
from care.models import CareAlert, CareStatus, PopulationEvaluation, Severity
from care.selectors import population_evaluated_for
from patients.models import LabNotDrawn, LabResult, Patient
from protocols.engine import units
from protocols.engine.evaluate import Evaluation, evaluate
from protocols.engine.facts import Facts
from protocols.engine.panels import analytes_to_draw
from protocols.engine.profiles import Profile
from protocols.models import ProtocolProfile
from protocols.selectors import profile_to_engine

_STATUS_FIELDS = [
    "patient_active",
    "clinic",
    "fingerprint",
    "profile",
    "profile_version",
    "as_of",
    "evaluated_at",
    "phase",
    "loading_doses_given",
    "maintenance_interval_months",
    "maintenance_interval_days",
    "suggested_interval_months",
    "maintenance_start",
    "next_injection_due",
    "next_recheck_due",
    "recheck_override_in_force",
    "rules_recheck_due",
    "recheck_labs",
    "verdict",
    "verdict_rules",
    "verdict_unmet",
    "rules",
    "because",
    "latest_b12",
    "latest_b12_category",
    "labs_due_on",
    "labs_window_from",
    "labs_to_draw",
]


class _Profiles:
    """Engine profiles by slug, loaded once per refresh."""

    def __init__(self) -> None:
        self.rows = {row.slug: row for row in ProtocolProfile.objects.all()}
        self.engine = {slug: profile_to_engine(row) for slug, row in self.rows.items()}

    def for_facts(self, facts: Facts) -> tuple[ProtocolProfile, Profile]:
        slug = facts.regimen.profile
        return self.rows[slug], self.engine[slug]


def _fingerprint(values: dict[str, object], alerts: list[dict[str, str]]) -> str:
    """A digest of everything a care status says, its alerts included, except when it was computed:
    equal digests, equal statuses, so the daily refresh rewrites only the rows that changed."""
    said = {
        key: value
        for key, value in values.items()
        if key not in ("as_of", "evaluated_at", "fingerprint", "clinic_id")  # the clinic: compared apart
    }
    said["profile"] = values["profile"].pk  # type: ignore[attr-defined]
    said["alerts"] = alerts
    return hashlib.blake2b(json.dumps(said, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


def _alerts(evaluation: Evaluation, was_since: dict[str, datetime.date]) -> list[dict[str, str]]:
    """The evaluation's alerts, each with the date it has been active since: kept across refreshes,
    so an acknowledgement can hide it while it stays active and a fresh occurrence shows again."""
    return [
        {**alert.to_dict(), "since": (was_since.get(alert.rule) or evaluation.as_of).isoformat()}
        for alert in evaluation.alerts
    ]


def _status_values(evaluation: Evaluation, profile_row: ProtocolProfile, now: datetime.datetime) -> dict[str, object]:
    return {
        "profile": profile_row,
        "profile_version": evaluation.profile_version,
        "as_of": evaluation.as_of,
        "evaluated_at": now,
        "phase": evaluation.phase,
        "loading_doses_given": evaluation.loading_doses_given,
        "maintenance_interval_months": evaluation.maintenance_interval_months,
        "maintenance_interval_days": evaluation.maintenance_interval_days,
        "suggested_interval_months": evaluation.suggested_interval_months,
        "maintenance_start": evaluation.maintenance_start,
        "next_injection_due": evaluation.next_injection_due,
        "next_recheck_due": evaluation.next_recheck_due,
        "recheck_override_in_force": evaluation.recheck_override_in_force,
        "rules_recheck_due": evaluation.rules_recheck_due,
        "recheck_labs": list(evaluation.recheck_labs),
        "verdict": evaluation.discontinuation.verdict,
        "verdict_rules": list(evaluation.discontinuation.rules),
        "verdict_unmet": list(evaluation.discontinuation.unmet),
        "rules": list(evaluation.rules),
        "because": {key: list(value) for key, value in evaluation.because.items()},
        "latest_b12": None if evaluation.latest_b12 is None else units.round_for_storage(evaluation.latest_b12),
        "latest_b12_category": evaluation.latest_b12_category or "",
    }


_NO_LABS_DUE: dict[str, object] = {"labs_due_on": None, "labs_window_from": None, "labs_to_draw": []}


def _last_drawn(ids: list[int]) -> dict[int, dict[str, datetime.date]]:
    """Per patient and analyte, the latest day it was drawn or recorded as not drawn (two queries); a
    result entered in error was not drawn."""
    last: dict[int, dict[str, datetime.date]] = defaultdict(dict)
    for queryset, day in (
        (LabResult.objects.filter(voided_at__isnull=True), "collected_on"),
        (LabNotDrawn.objects.all(), "on"),
    ):
        rows = queryset.filter(patient_id__in=ids).values("patient_id", "analyte").annotate(last=Max(day))
        for row in rows.values_list("patient_id", "analyte", "last"):
            pid, analyte, when = row
            if analyte not in last[pid] or last[pid][analyte] < when:
                last[pid][analyte] = when
    return last


def _missing(recheck_labs: tuple[str, ...], window_from: datetime.date, drawn: dict[str, datetime.date]) -> list[str]:
    return [code for code in analytes_to_draw(recheck_labs) if drawn.get(code, datetime.date.min) < window_from]


def _labs_due(
    facts: Facts, evaluation: Evaluation, profile: Profile, drawn: dict[str, datetime.date]
) -> dict[str, object]:
    """The recheck whose labs are still to draw, for the worklist.

    The engine moves to the next recheck as soon as a B12 answers the current one. So first: the
    recheck the latest B12 answered (the evaluation without that day's B12 says which), if some lab of
    it is neither drawn nor recorded as not drawn from its window start on; else the current recheck,
    unless every lab of it is already in. Derived from the record alone, so any refresh recomputes it."""
    window = datetime.timedelta(days=profile.recheck_window_days)
    b12_days = [lab.date for lab in facts.labs if lab.analyte == "b12"]
    if b12_days:
        latest = max(b12_days)
        without = replace(facts, labs=tuple(lab for lab in facts.labs if lab.analyte != "b12" or lab.date != latest))
        before = evaluate(without, profile)
        due = before.next_recheck_due
        if due is not None and due != evaluation.next_recheck_due and latest >= due - window:
            missing = _missing(before.recheck_labs, due - window, drawn)
            if missing:
                return {"labs_due_on": due, "labs_window_from": due - window, "labs_to_draw": missing}
    due = evaluation.next_recheck_due
    if due is None:
        return dict(_NO_LABS_DUE)
    missing = _missing(evaluation.recheck_labs, due - window, drawn)
    if not missing:
        return dict(_NO_LABS_DUE)
    return {"labs_due_on": due, "labs_window_from": due - window, "labs_to_draw": missing}


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


BULK_LOAD_FROM = 50  # patients


def _refresh(ids: list[int], *, as_of: datetime.date, profiles: _Profiles, now: datetime.datetime) -> int:
    """Evaluate these patients and upsert their care statuses and alerts; returns the number of alerts."""
    stored = {
        pid: (fingerprint, clinic)
        for pid, fingerprint, clinic in CareStatus.objects.filter(patient_id__in=ids).values_list(
            "patient_id", "fingerprint", "clinic_id"
        )
    }
    since: dict[int, dict[str, datetime.date]] = defaultdict(dict)
    for pid, rule, day in CareAlert.objects.filter(patient_id__in=ids).values_list("patient_id", "rule", "since"):
        since[pid][rule] = day
    clinic_of, inactive = {}, set()
    for pid, clinic, active in Patient.objects.filter(pk__in=ids).values_list("pk", "clinic_id", "is_active"):
        clinic_of[pid] = clinic
        if not active:
            inactive.add(pid)
    last_drawn = _last_drawn(ids)
    rows: list[CareStatus] = []
    alert_rows: list[CareAlert] = []
    alerts = 0
    # Many patients (the chunks of a whole-population refresh): the facts aggregated by PostgreSQL, as
    # the protocol change preview reads them (the same facts: tests/protocols/test_profile_preview.py);
    # one patient (an action): row by row, the cheaper way for one.
    load = facts_by_patient_bulk if len(ids) >= BULK_LOAD_FROM else facts_by_patient
    for pid, facts in load(ids, as_of=as_of).items():
        profile_row, profile = profiles.for_facts(facts)
        evaluation = evaluate(facts, profile)
        values = _status_values(evaluation, profile_row, now)
        values["patient_active"] = pid not in inactive
        values["clinic_id"] = clinic_of[pid]  # a transfer rewrites the status with the new clinic
        # A discharged patient is on no worklist.
        values.update(_labs_due(facts, evaluation, profile, last_drawn[pid]) if pid not in inactive else _NO_LABS_DUE)
        # A discharged patient has no alert rows.
        active_alerts = _alerts(evaluation, since[pid]) if pid not in inactive else []
        values["fingerprint"] = _fingerprint(values, active_alerts)
        alerts += len(active_alerts)
        if stored.get(pid) == (values["fingerprint"], values["clinic_id"]):
            continue
        rows.append(CareStatus(patient_id=pid, **values))
        alert_rows += [
            CareAlert(
                patient_id=pid,
                clinic_id=values["clinic_id"],
                rule=alert["rule"],
                severity=Severity.of(alert["severity"]),
                since=datetime.date.fromisoformat(alert["since"]),
                message=alert["message"],
            )
            for alert in active_alerts
        ]
    # An unchanged status is left as it is (most statuses on most days): the run's PopulationEvaluation
    # says it was evaluated again, so its row, and the visibility map the pages' index-only counts
    # need, stay clean.
    if not rows:
        return alerts
    CareStatus.objects.bulk_create(rows, update_conflicts=True, unique_fields=["patient"], update_fields=_STATUS_FIELDS)
    CareAlert.objects.filter(patient_id__in=[row.patient_id for row in rows]).delete()
    CareAlert.objects.bulk_create(alert_rows)
    return alerts


def _refresh_in_chunks(
    ids: list[int], *, as_of: datetime.date, chunk_size: int, progress: Callable[[int, int], None] | None = None
) -> RefreshSummary:
    """Each chunk is its own transaction: a refresh of 100,000 patients does not hold one long lock,
    and a crash halfway leaves every stored status consistent with the facts it was computed from.
    `progress(done, total)` is called after each chunk (toolkit.progress)."""
    profiles, now = _Profiles(), timezone.now()
    alerts = 0
    for start in range(0, len(ids), chunk_size):
        with transaction.atomic():
            alerts += _refresh(ids[start : start + chunk_size], as_of=as_of, profiles=profiles, now=now)
        if progress is not None:
            progress(min(start + chunk_size, len(ids)), len(ids))
    return RefreshSummary(patients=len(ids), alerts=alerts)


def _mark_population_evaluated(*, as_of: datetime.date, patients: int) -> None:
    """Every active patient now holds a status evaluated for `as_of`: say so once, instead of on each
    unchanged row. Only after every chunk committed, so a run that stopped halfway marks nothing."""
    PopulationEvaluation.objects.create(as_of=as_of, evaluated_at=timezone.now(), patients=patients)


def care_status_refresh_all(
    *,
    today: datetime.date | None = None,
    patients: QuerySet[Patient] | None = None,
    chunk_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> RefreshSummary:
    """Re-evaluate every active patient (or `patients`) and upsert the care statuses that changed.

    A run over every active patient (no `patients`) ends by recording a PopulationEvaluation for the
    day: the statuses it left unchanged hold for that day too. `progress(done, total)` is called after
    each chunk."""
    as_of = today or timezone.localdate()
    queryset = patients if patients is not None else Patient.objects.filter(is_active=True)
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    summary = _refresh_in_chunks(ids, as_of=as_of, chunk_size=chunk_size, progress=progress)
    if patients is None:
        _mark_population_evaluated(as_of=as_of, patients=summary.patients)
    return summary


def care_status_refresh_stale(
    *, today: datetime.date | None = None, progress: Callable[[int, int], None] | None = None
) -> RefreshSummary:
    """Refresh every active patient whose care status is missing or was evaluated before `today`.

    Until the day's PopulationEvaluation exists, that is every active patient whose status was not
    rewritten today; the run then records it. After it, only patients without a status (or whose
    status still says they are discharged) remain to do, and a second run does nothing."""
    as_of = today or timezone.localdate()
    latest = population_evaluated_for()
    day_done = latest is not None and latest >= as_of
    behind = Q(care_status__as_of__lt=as_of) & (Q(care_status__patient_active=False) if day_done else Q())
    stale = Patient.objects.filter(is_active=True).filter(Q(care_status__isnull=True) | behind)
    ids = list(stale.order_by("pk").values_list("pk", flat=True))
    summary = _refresh_in_chunks(ids, as_of=as_of, chunk_size=1000, progress=progress)
    if not day_done:
        _mark_population_evaluated(as_of=as_of, patients=Patient.objects.filter(is_active=True).count())
    return summary
