"""Reads for the nurse's worklist and the physician's dashboard.

Each runs a fixed number of queries whatever the number of patients. "Due" and "overdue" compare the
stored due dates with `today` in the query itself, so the lists are right even before the daily
re-evaluation has turned yesterday's due date into an overdue alert.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from clinic.models import Decision
from patients.models import Cause, CauseKind, LabResult, Patient
from protocols.engine.rules import ALERT_SEVERITY
from protocols.models import CareAlert, CareStatus, Severity

# The worklist shows rechecks due within this many days, so the labs can be drawn at a visit this week.
WORKLIST_RECHECK_DAYS = 7
# The dashboard looks this far ahead for rechecks.
DASHBOARD_RECHECK_DAYS = 14
# An injection more than this many days overdue: lost to follow-up.
LOST_TO_FOLLOW_UP_DAYS = 60
# Rows shown per dashboard list unless all are asked for (the counts are always complete).
LIST_LIMIT = 25

ORAL_CANDIDATE = "oral_switch_candidate"
ALERT_RULES: tuple[str, ...] = tuple(ALERT_SEVERITY)
DASHBOARD_SEVERITIES = ("high", "medium")


# CareStatus columns no dashboard or worklist row shows: left in the database.
_NOT_LISTED = ("alerts", "because", "rules", "verdict_rules", "verdict_unmet", "alert_rules")


def _active_statuses() -> QuerySet[CareStatus]:
    return CareStatus.objects.filter(patient_active=True).select_related("patient")


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
    injections_total: int
    rechecks_total: int
    lost: int  # injections more than LOST_TO_FOLLOW_UP_DAYS overdue: on the physician's dashboard
    limited: bool


# Rows per worklist list unless all are asked for (the totals are always complete): a clinic day's page.
WORKLIST_LIMIT = 50


def worklist(*, today: datetime.date, limit: int | None = WORKLIST_LIMIT) -> Worklist:
    """Active patients whose injection is due today or overdue (most overdue first, up to
    LOST_TO_FOLLOW_UP_DAYS; those lost to follow-up are counted, and listed on the dashboard), and
    those whose lab recheck is due within WORKLIST_RECHECK_DAYS or overdue, with the labs to draw.
    At most `limit` rows a list. Five queries."""
    recheck_until = today + datetime.timedelta(days=WORKLIST_RECHECK_DAYS)
    lost_before = today - datetime.timedelta(days=LOST_TO_FOLLOW_UP_DAYS)
    active = _active_statuses().defer(*_NOT_LISTED)
    injections = active.filter(next_injection_due__lte=today, next_injection_due__gte=lost_before)
    rechecks = active.filter(next_recheck_due__lte=recheck_until)
    by_due = ("next_injection_due", "patient__family_name", "patient__given_name", "pk")
    by_recheck = ("next_recheck_due", "patient__family_name", "patient__given_name", "pk")
    return Worklist(
        today=today,
        recheck_until=recheck_until,
        injections=[
            InjectionDue(status, (today - status.next_injection_due).days)
            for status in injections.order_by(*by_due)[:limit]
        ],
        rechecks=[
            RecheckDue(status, (status.next_recheck_due - today).days)
            for status in rechecks.order_by(*by_recheck)[:limit]
        ],
        injections_total=injections.count(),
        rechecks_total=rechecks.count(),
        lost=_active_statuses().filter(next_injection_due__lt=lost_before).count(),
        limited=limit is not None,
    )


# Dashboard -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRow:
    care_alert: CareAlert

    @property
    def patient(self) -> Patient:
        return self.care_alert.patient

    @property
    def alert(self) -> dict[str, str]:
        a = self.care_alert
        return {
            "rule": a.rule,
            "severity": Severity(a.severity).label.lower(),
            "message": a.message,
            "since": a.since.isoformat(),
        }


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
    limit: int | None = None


def unacknowledged_alerts() -> QuerySet[CareAlert]:
    """Active patients' alerts that no acknowledgement covers. An acknowledgement covers one
    occurrence: same patient and rule, recorded while the alert was active since the same date. An
    alert that cleared and fired again has a later `since`, so the old acknowledgement no longer
    covers it."""
    covering = Decision.objects.filter(
        patient=OuterRef("patient"),
        kind=Decision.Kind.ALERT_ACKNOWLEDGED,
        alert_rule=OuterRef("rule"),
        alert_since__gte=OuterRef("since"),
    )
    return CareAlert.objects.exclude(Exists(covering))  # only active patients have alert rows


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


def dashboard(
    *, today: datetime.date, filters: DashboardFilters | None = None, limit: int | None = LIST_LIMIT
) -> Dashboard:
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

    counts = base.aggregate(
        overdue=Count("pk", filter=overdue_q),
        lost=Count("pk", filter=lost_q),
        rechecks_soon=Count("pk", filter=soon_q),
        rechecks_overdue=Count("pk", filter=recheck_overdue_q),
    )
    base = base.defer(*_NOT_LISTED)
    board = Dashboard(
        today=today, filters=filters, counts=counts, recheck_until=recheck_until, lost_before=lost_before, limit=limit
    )
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

    alerts = unacknowledged_alerts().filter(severity__gte=Severity.MEDIUM)
    if filters.alert_rule:
        alerts = alerts.filter(rule=filters.alert_rule)
    if filters.cause:
        alerts = alerts.filter(Exists(Cause.objects.filter(patient=OuterRef("patient"), kind=filters.cause)))
    by_severity = dict(alerts.values_list("severity").annotate(n=Count("pk")).values_list("severity", "n"))
    board.counts["alerts_high"] = by_severity.get(Severity.HIGH, 0)
    board.counts["alerts_medium"] = by_severity.get(Severity.MEDIUM, 0)
    board.alerts = [AlertRow(a) for a in alerts.select_related("patient").order_by("-severity", "since", "pk")[:limit]]
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
