"""Reads for the nurse's worklist and the physician's dashboard.

Each runs a fixed number of queries whatever the number of patients. "Due" and "overdue" compare the
stored due dates with `today` in the query itself, so the lists are right even before the daily
re-evaluation has turned yesterday's due date into an overdue alert.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from clinic.models import Decision
from patients.models import Cause, CauseKind, LabResult, Patient
from protocols.engine.rules import ALERT_SEVERITY, SEVERITY_ORDER
from protocols.models import CareStatus, Severity

# The worklist shows rechecks due within this many days, so the labs can be drawn at a visit this week.
WORKLIST_RECHECK_DAYS = 7
# The dashboard looks this far ahead for rechecks.
DASHBOARD_RECHECK_DAYS = 14
# An injection more than this many days overdue: lost to follow-up.
LOST_TO_FOLLOW_UP_DAYS = 60
# Rows shown per dashboard list (the counts are always complete).
LIST_LIMIT = 100

ORAL_CANDIDATE = "oral_switch_candidate"
ALERT_RULES: tuple[str, ...] = tuple(ALERT_SEVERITY)
DASHBOARD_SEVERITIES = ("high", "medium")


def _active_statuses() -> QuerySet[CareStatus]:
    return CareStatus.objects.filter(patient__is_active=True).select_related("patient")


# Worklist ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InjectionDue:
    status: CareStatus
    days_overdue: int

    @property
    def patient(self) -> Patient:
        return self.status.patient


@dataclass(frozen=True)
class RecheckDue:
    status: CareStatus
    days_until: int  # negative when overdue

    @property
    def patient(self) -> Patient:
        return self.status.patient

    @property
    def days_overdue(self) -> int:
        return max(0, -self.days_until)


@dataclass(frozen=True)
class Worklist:
    today: datetime.date
    recheck_until: datetime.date
    injections: list[InjectionDue]
    rechecks: list[RecheckDue]


def worklist(*, today: datetime.date) -> Worklist:
    """Active patients whose injection is due today or overdue (most overdue first), and those whose
    lab recheck is due within WORKLIST_RECHECK_DAYS (or overdue), with the labs to draw. Two queries."""
    recheck_until = today + datetime.timedelta(days=WORKLIST_RECHECK_DAYS)
    injections = _active_statuses().filter(next_injection_due__lte=today)
    rechecks = _active_statuses().filter(next_recheck_due__lte=recheck_until)
    return Worklist(
        today=today,
        recheck_until=recheck_until,
        injections=[
            InjectionDue(status, (today - status.next_injection_due).days)
            for status in injections.order_by("next_injection_due", "patient__family_name", "patient__given_name")
        ],
        rechecks=[
            RecheckDue(status, (status.next_recheck_due - today).days)
            for status in rechecks.order_by("next_recheck_due", "patient__family_name", "patient__given_name")
        ],
    )


# Dashboard -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRow:
    status: CareStatus
    alert: dict[str, str]

    @property
    def patient(self) -> Patient:
        return self.status.patient


@dataclass(frozen=True)
class DashboardFilters:
    alert_rule: str = ""
    cause: str = ""

    @classmethod
    def parse(cls, data: dict[str, str] | object) -> DashboardFilters:
        """Unknown values are ignored (an old bookmark never errors)."""
        get = getattr(data, "get", lambda key, default="": default)
        rule = get("alert", "") or ""
        cause = get("cause", "") or ""
        return cls(
            alert_rule=rule if rule in ALERT_RULES else "",
            cause=cause if cause in CauseKind.values else "",
        )

    @property
    def active(self) -> bool:
        return bool(self.alert_rule or self.cause)


@dataclass
class Dashboard:
    today: datetime.date
    filters: DashboardFilters
    overdue: list[InjectionDue] = field(default_factory=list)
    lost: list[InjectionDue] = field(default_factory=list)
    rechecks_soon: list[RecheckDue] = field(default_factory=list)
    rechecks_overdue: list[RecheckDue] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    oral_candidates: list[CareStatus] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    recheck_until: datetime.date | None = None
    lost_before: datetime.date | None = None


def alert_is_acknowledged(alert: dict[str, str], acknowledgements: Iterable[Decision]) -> bool:
    """True when an acknowledgement covers this occurrence of the alert: same rule, and the alert has
    been active since on or before the day it was acknowledged. An alert that cleared and fired again
    later has a newer `since`, so an older acknowledgement does not hide it."""
    since = datetime.date.fromisoformat(alert["since"])
    return any(ack.alert_rule == alert["rule"] and since <= timezone.localdate(ack.made_at) for ack in acknowledgements)


def _filtered(queryset: QuerySet[CareStatus], filters: DashboardFilters) -> QuerySet[CareStatus]:
    if filters.alert_rule:
        queryset = queryset.filter(alert_rules__contains=f",{filters.alert_rule},")
    if filters.cause:
        queryset = queryset.filter(Exists(Cause.objects.filter(patient=OuterRef("patient"), kind=filters.cause)))
    return queryset


def _awaiting_oral_decision() -> Q:
    """Oral-switch candidates not on oral therapy whom no physician has declined since the last lab
    result was entered (a decline stands until new results reopen the question)."""
    newer_lab = LabResult.objects.filter(patient=OuterRef("patient"), entered_at__gt=OuterRef("made_at"))
    declined = Decision.objects.filter(patient=OuterRef("patient"), kind=Decision.Kind.ORAL_SWITCH_DECLINED).filter(
        ~Exists(newer_lab)
    )
    return Q(verdict=ORAL_CANDIDATE, patient__regimen__oral_since__isnull=True) & ~Q(Exists(declined))


def _alert_rows(statuses: Sequence[CareStatus], acks: Sequence[Decision], rule: str) -> list[AlertRow]:
    acks_by_patient: dict[int, list[Decision]] = defaultdict(list)
    for ack in acks:
        acks_by_patient[ack.patient_id].append(ack)
    rows = [
        AlertRow(status, alert)
        for status in statuses
        for alert in status.alerts
        if alert["severity"] in DASHBOARD_SEVERITIES
        and (not rule or alert["rule"] == rule)
        and not alert_is_acknowledged(alert, acks_by_patient[status.patient_id])
    ]
    rows.sort(key=lambda row: (SEVERITY_ORDER[row.alert["severity"]], row.alert["since"], row.patient.family_name))
    return rows


def dashboard(*, today: datetime.date, filters: DashboardFilters | None = None, limit: int = LIST_LIMIT) -> Dashboard:
    """The physician's panel: counts and lists. Ten queries whatever the number of patients."""
    filters = filters or DashboardFilters()
    base = _filtered(_active_statuses(), filters)
    recheck_until = today + datetime.timedelta(days=DASHBOARD_RECHECK_DAYS)
    lost_before = today - datetime.timedelta(days=LOST_TO_FOLLOW_UP_DAYS)

    overdue_q = Q(next_injection_due__lt=today, next_injection_due__gte=lost_before)
    lost_q = Q(next_injection_due__lt=lost_before)
    soon_q = Q(next_recheck_due__gte=today, next_recheck_due__lte=recheck_until)
    recheck_overdue_q = Q(next_recheck_due__lt=today)
    by_due = ("next_injection_due", "patient__family_name", "patient__given_name")
    by_recheck = ("next_recheck_due", "patient__family_name", "patient__given_name")

    counts = {
        name: base.filter(q).count()
        for name, q in (
            ("overdue", overdue_q),
            ("lost", lost_q),
            ("rechecks_soon", soon_q),
            ("rechecks_overdue", recheck_overdue_q),
        )
    }
    board = Dashboard(today=today, filters=filters, counts=counts, recheck_until=recheck_until, lost_before=lost_before)
    board.overdue = [
        InjectionDue(s, (today - s.next_injection_due).days) for s in base.filter(overdue_q).order_by(*by_due)[:limit]
    ]
    board.lost = [
        InjectionDue(s, (today - s.next_injection_due).days) for s in base.filter(lost_q).order_by(*by_due)[:limit]
    ]
    board.rechecks_soon = [
        RecheckDue(s, (s.next_recheck_due - today).days) for s in base.filter(soon_q).order_by(*by_recheck)[:limit]
    ]
    board.rechecks_overdue = [
        RecheckDue(s, (s.next_recheck_due - today).days)
        for s in base.filter(recheck_overdue_q).order_by(*by_recheck)[:limit]
    ]
    candidates = base.filter(_awaiting_oral_decision())
    board.counts["oral_candidates"] = candidates.count()
    board.oral_candidates = list(candidates.order_by("patient__family_name", "patient__given_name")[:limit])

    alerting = base.filter(highest_severity__gte=Severity.MEDIUM)
    acks = Decision.objects.filter(
        kind=Decision.Kind.ALERT_ACKNOWLEDGED, patient_id__in=alerting.values("patient_id")
    ).only("patient_id", "alert_rule", "made_at")
    rows = _alert_rows(list(alerting), list(acks), filters.alert_rule)
    board.counts["alerts_high"] = sum(1 for row in rows if row.alert["severity"] == "high")
    board.counts["alerts_medium"] = sum(1 for row in rows if row.alert["severity"] == "medium")
    board.alerts = rows[:limit]
    return board


# Search --------------------------------------------------------------------------------------------

SEARCH_LIMIT = 25


def patient_search(*, query: str, limit: int = SEARCH_LIMIT) -> list[Patient]:
    """Patients whose name or medical record number contains every word typed (active ones first).
    With nothing typed: the first active patients by name. One query."""
    patients = Patient.objects.select_related("care_status")
    for term in query.split()[:5]:
        patients = patients.filter(
            Q(given_name__icontains=term) | Q(family_name__icontains=term) | Q(mrn__icontains=term)
        )
    if not query.strip():
        patients = patients.filter(is_active=True)
    return list(patients.order_by("-is_active", "family_name", "given_name", "pk")[:limit])
