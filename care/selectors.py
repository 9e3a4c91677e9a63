"""Reads of the care status: the nurse's worklist, the physician's dashboard, search, and the counts
that the pages and the staff digest show (one definition each, so they always agree).

Each takes the clinics it counts or lists (`clinics`: accounts.clinics.clinics_of(user) for a page, a
user's clinics for their digest, one clinic at a time on the programme page) and runs a fixed number
of queries whatever the number of patients. "Due" and "overdue" compare the
stored due dates with `today` in the query itself, so the lists are right even before the daily
re-evaluation has turned yesterday's due date into an overdue alert.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Clinic
from care.models import CareAlert, CareStatus, Phase, PopulationEvaluation, Severity, Verdict
from patients.models import Cause, CauseKind, Decision, LabResult, Patient
from patients.selectors import Clinics
from protocols.engine.rules import ALERT_SEVERITY

# The worklist shows rechecks due within this many days, so the labs can be drawn at a visit this week.
WORKLIST_RECHECK_DAYS = 7
# The dashboard looks this far ahead for rechecks.
DASHBOARD_RECHECK_DAYS = 14
# An injection more than this many days overdue: lost to follow-up.
LOST_TO_FOLLOW_UP_DAYS = 60
# Rows shown per dashboard list unless all are asked for (the counts are always complete).
LIST_LIMIT = 10

ALERT_RULES: tuple[str, ...] = tuple(ALERT_SEVERITY)
DASHBOARD_SEVERITIES = ("high", "medium")


# The columns a worklist or dashboard row shows, or its CSV export writes (exchange.exports): only
# these are loaded, so each of the pages' rows builds two small model instances, not two wide ones.
_LISTED_PATIENT = ("patient__mrn", "patient__given_name", "patient__family_name", "patient__birth_date")
_WORKLIST_ROW = (
    *("patient_id", "phase", "next_injection_due", "next_recheck_due", "labs_due_on", "labs_to_draw"),
    *_LISTED_PATIENT,
)
_DASHBOARD_ROW = (
    *("patient_id", "verdict", "verdict_rules", "next_injection_due", "next_recheck_due", "recheck_labs"),
    *("latest_b12", *_LISTED_PATIENT),
)
_ALERT_ROW = ("patient_id", "rule", "severity", "since", "message", *_LISTED_PATIENT)


def _active_statuses(clinics: Clinics) -> QuerySet[CareStatus]:
    # The status's own copy of the clinic: counted without joining the patients.
    return CareStatus.objects.filter(patient_active=True, clinic__in=clinics).select_related("patient")


# The day a status holds for --------------------------------------------------------------------------


def population_evaluated_for() -> datetime.date | None:
    """The day the latest daily refresh of every active patient evaluated them for (one query), or
    None before the first."""
    return PopulationEvaluation.objects.order_by("-pk").values_list("as_of", flat=True).first()


def evaluated_for(*, as_of: datetime.date, patient_active: bool, population: datetime.date | None) -> datetime.date:
    """The day a stored status holds for: the day it was last rewritten, or the day of the latest
    daily refresh of every active patient, which re-evaluated it without rewriting it when nothing
    changed. A discharged patient's status is not re-evaluated daily: its own day."""
    if patient_active and population is not None and population > as_of:
        return population
    return as_of


def care_status_evaluated_for(status: CareStatus) -> datetime.date:
    """`evaluated_for` of one stored status (one query), e.g. "Evaluated for ..." on the chart."""
    return evaluated_for(
        as_of=status.as_of, patient_active=status.patient_active, population=population_evaluated_for()
    )


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


def _worklist_filters(today: datetime.date) -> tuple[Q, Q, Q]:
    """(injections due, rechecks due, lost to follow-up): the worklist's three sets of active patients."""
    recheck_until = today + datetime.timedelta(days=WORKLIST_RECHECK_DAYS)
    lost_before = today - datetime.timedelta(days=LOST_TO_FOLLOW_UP_DAYS)
    return (
        Q(next_injection_due__lte=today, next_injection_due__gte=lost_before),
        # Until every lab of the recheck is in or recorded as not drawn (care.services `labs_due_on`).
        Q(labs_due_on__lte=recheck_until),
        Q(next_injection_due__lt=lost_before),
    )


def worklist_counts(*, today: datetime.date, clinics: Clinics) -> dict[str, int]:
    """The worklist's totals: injections due, rechecks due, patients lost to follow-up (on the
    dashboard). The worklist page and the nurses' digest both show these. One query, one pass over
    the due-date index (counting patient_id, which it includes, not the status id)."""
    injections, rechecks, lost = _worklist_filters(today)
    return _active_statuses(clinics).aggregate(
        injections=Count("patient", filter=injections),
        rechecks=Count("patient", filter=rechecks),
        lost=Count("patient", filter=lost),
    )


def worklist(*, today: datetime.date, clinics: Clinics, limit: int | None = WORKLIST_LIMIT) -> Worklist:
    """Active patients whose injection is due today or overdue (most overdue first, up to
    LOST_TO_FOLLOW_UP_DAYS; those lost to follow-up are counted, and listed on the dashboard), and
    those whose lab recheck is due within WORKLIST_RECHECK_DAYS or overdue, with the labs still to draw
    (a patient stays until every lab of the recheck is in or recorded as not drawn).
    At most `limit` rows a list. Three queries."""
    injections_due, rechecks_due, _ = _worklist_filters(today)
    active = _active_statuses(clinics)
    injections, rechecks = active.filter(injections_due), active.filter(rechecks_due)
    totals = worklist_counts(today=today, clinics=clinics)
    by_due = ("next_injection_due", "patient__family_name", "patient__given_name", "pk")
    by_labs = ("labs_due_on", "patient__family_name", "patient__given_name", "pk")
    return Worklist(
        today=today,
        recheck_until=today + datetime.timedelta(days=WORKLIST_RECHECK_DAYS),
        injections=[
            InjectionDue(status, (today - status.next_injection_due).days)
            for status in injections.only(*_WORKLIST_ROW).order_by(*by_due)[:limit]
        ],
        rechecks=[
            RecheckDue(status, (status.labs_due_on - today).days)
            for status in rechecks.only(*_WORKLIST_ROW).order_by(*by_labs)[:limit]
        ],
        injections_total=totals["injections"],
        rechecks_total=totals["rechecks"],
        lost=totals["lost"],
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
        return {"rule": a.rule, "severity": a.severity_name, "message": a.message, "since": a.since.isoformat()}


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

    def patient_ids(self) -> set[int]:
        """Every patient the board lists (for the access log)."""
        rows = (*self.overdue, *self.lost, *self.rechecks_soon, *self.rechecks_overdue)
        return (
            {row.status.patient_id for row in rows}
            | {s.patient_id for s in self.oral_candidates}
            | {row.care_alert.patient_id for row in self.alerts}
        )


def _covering_acknowledgement() -> QuerySet[Decision]:
    """An acknowledgement covers one occurrence of an alert: same patient and rule, recorded while
    the alert was active since the same date. An alert that cleared and fired again has a later
    `since`, so the old acknowledgement no longer covers it."""
    return Decision.objects.filter(
        patient=OuterRef("patient"),
        kind=Decision.Kind.ALERT_ACKNOWLEDGED,
        alert_rule=OuterRef("rule"),
        alert_since__gte=OuterRef("since"),
    )


def _alerts_of(clinics: Clinics) -> QuerySet[CareAlert]:
    return CareAlert.objects.filter(clinic__in=clinics)  # only active patients have alert rows


def unacknowledged_alerts(clinics: Clinics) -> QuerySet[CareAlert]:
    """Active patients' alerts that no acknowledgement covers (`_covering_acknowledgement`)."""
    return _alerts_of(clinics).exclude(Exists(_covering_acknowledgement()))


def _acknowledged(alerts: QuerySet[CareAlert]) -> QuerySet[CareAlert]:
    """Those of `alerts` an acknowledgement covers, found from the acknowledgements' side: only the
    few patients with one are looked at, by the (patient, rule) index."""
    acknowledged_patients = Decision.objects.filter(kind=Decision.Kind.ALERT_ACKNOWLEDGED).values("patient_id")
    return alerts.filter(patient_id__in=acknowledged_patients).filter(Exists(_covering_acknowledgement()))


def _by_severity(alerts: QuerySet[CareAlert]) -> dict[int, int]:
    # count(severity), not count(id): the (clinic, severity) index answers alone.
    return dict(alerts.order_by().values_list("severity").annotate(n=Count("severity")).values_list("severity", "n"))


def unacknowledged_alert_counts(alerts: QuerySet[CareAlert]) -> dict[int, int]:
    """The unacknowledged ones of `alerts` (none excluded yet) by severity, as every alert less the
    acknowledged ones: two queries that read no acknowledgement per alert. The anti-join
    (`unacknowledged_alerts`) looks one up for each of the tens of thousands of alerts."""
    every, acknowledged = _by_severity(alerts), _by_severity(_acknowledged(alerts))
    return {severity: n - acknowledged.get(severity, 0) for severity, n in every.items()}


def _filtered(queryset: QuerySet[CareStatus], filters: DashboardFilters) -> QuerySet[CareStatus]:
    if filters.alert_rule:
        queryset = queryset.filter(
            Exists(CareAlert.objects.filter(patient=OuterRef("patient"), rule=filters.alert_rule))
        )
    if filters.cause:
        queryset = queryset.filter(Exists(Cause.objects.filter(patient=OuterRef("patient"), kind=filters.cause)))
    return queryset


def _awaiting_oral_decision() -> Q:
    """Oral-switch candidates not on oral therapy whom no physician has declined since the last lab
    result was entered (a decline stands until new results reopen the question)."""
    newer_lab = LabResult.objects.filter(
        patient=OuterRef("patient"), entered_at__gt=OuterRef("made_at"), voided_at__isnull=True
    )
    declined = Decision.objects.filter(patient=OuterRef("patient"), kind=Decision.Kind.ORAL_SWITCH_DECLINED).filter(
        ~Exists(newer_lab)
    )
    return Q(verdict=Verdict.ORAL_SWITCH_CANDIDATE) & ~Q(phase=Phase.ORAL) & ~Q(Exists(declined))


@dataclass(frozen=True)
class _DashboardQueries:
    today: datetime.date
    statuses: QuerySet[CareStatus]
    alerts: QuerySet[CareAlert]  # acknowledged or not (unacknowledged: `unacknowledged`)
    overdue: Q
    lost: Q
    rechecks_soon: Q
    rechecks_overdue: Q

    @property
    def unacknowledged(self) -> QuerySet[CareAlert]:
        return self.alerts.exclude(Exists(_covering_acknowledgement()))

    @property
    def recheck_until(self) -> datetime.date:
        return self.today + datetime.timedelta(days=DASHBOARD_RECHECK_DAYS)

    @property
    def lost_before(self) -> datetime.date:
        return self.today - datetime.timedelta(days=LOST_TO_FOLLOW_UP_DAYS)


def _dashboard_queries(today: datetime.date, filters: DashboardFilters, clinics: Clinics) -> _DashboardQueries:
    lost_before = today - datetime.timedelta(days=LOST_TO_FOLLOW_UP_DAYS)
    alerts = _alerts_of(clinics).filter(severity__gte=Severity.MEDIUM)
    if filters.alert_rule:
        alerts = alerts.filter(rule=filters.alert_rule)
    if filters.cause:
        alerts = alerts.filter(Exists(Cause.objects.filter(patient=OuterRef("patient"), kind=filters.cause)))
    return _DashboardQueries(
        today=today,
        statuses=_filtered(_active_statuses(clinics), filters),
        alerts=alerts,
        overdue=Q(next_injection_due__lt=today, next_injection_due__gte=lost_before),
        lost=Q(next_injection_due__lt=lost_before),
        rechecks_soon=Q(
            next_recheck_due__gte=today, next_recheck_due__lte=today + datetime.timedelta(days=DASHBOARD_RECHECK_DAYS)
        ),
        rechecks_overdue=Q(next_recheck_due__lt=today),
    )


def dashboard_counts(
    *, today: datetime.date, clinics: Clinics, filters: DashboardFilters | None = None
) -> dict[str, int]:
    """The dashboard's counts: overdue injections, lost to follow-up, rechecks soon and overdue,
    oral-switch candidates awaiting a decision, unacknowledged high and medium alerts. The dashboard
    and the physicians' digest both show these. Four queries."""
    queries = _dashboard_queries(today, filters or DashboardFilters(), clinics)
    counts: dict[str, int] = queries.statuses.aggregate(
        # patient_id, not the status id: the due-date index includes it and answers alone.
        overdue=Count("patient", filter=queries.overdue),
        lost=Count("patient", filter=queries.lost),
        rechecks_soon=Count("patient", filter=queries.rechecks_soon),
        rechecks_overdue=Count("patient", filter=queries.rechecks_overdue),
    )
    counts["oral_candidates"] = queries.statuses.filter(_awaiting_oral_decision()).count()
    by_severity = unacknowledged_alert_counts(queries.alerts)
    counts["alerts_high"] = by_severity.get(Severity.HIGH, 0)
    counts["alerts_medium"] = by_severity.get(Severity.MEDIUM, 0)
    return counts


def dashboard(
    *,
    today: datetime.date,
    clinics: Clinics,
    filters: DashboardFilters | None = None,
    limit: int | None = LIST_LIMIT,
) -> Dashboard:
    """The physician's panel: counts and lists. Ten queries whatever the number of patients."""
    filters = filters or DashboardFilters()
    queries = _dashboard_queries(today, filters, clinics)
    base = queries.statuses.only(*_DASHBOARD_ROW)
    by_due = ("next_injection_due", "patient__family_name", "patient__given_name")
    by_recheck = ("next_recheck_due", "patient__family_name", "patient__given_name")
    board = Dashboard(
        today=today,
        filters=filters,
        counts=dashboard_counts(today=today, clinics=clinics, filters=filters),
        recheck_until=queries.recheck_until,
        lost_before=queries.lost_before,
        limit=limit,
    )
    board.overdue = [
        InjectionDue(s, (today - s.next_injection_due).days)
        for s in base.filter(queries.overdue).order_by(*by_due)[:limit]
    ]
    board.lost = [
        InjectionDue(s, (today - s.next_injection_due).days)
        for s in base.filter(queries.lost).order_by(*by_due)[:limit]
    ]
    board.rechecks_soon = [
        RecheckDue(s, (s.next_recheck_due - today).days)
        for s in base.filter(queries.rechecks_soon).order_by(*by_recheck)[:limit]
    ]
    board.rechecks_overdue = [
        RecheckDue(s, (s.next_recheck_due - today).days)
        for s in base.filter(queries.rechecks_overdue).order_by(*by_recheck)[:limit]
    ]
    board.oral_candidates = list(
        base.filter(_awaiting_oral_decision()).order_by("patient__family_name", "patient__given_name")[:limit]
    )
    board.alerts = [
        AlertRow(a)
        for a in queries.unacknowledged.select_related("patient")
        .only(*_ALERT_ROW)
        .order_by("-severity", "since", "pk")[:limit]
    ]
    return board


# The programme -------------------------------------------------------------------------------------


def programme_clinics(clinics: QuerySet[Clinic]) -> list[Clinic]:
    """`clinics` by name, each with `active_patients` (patients in care). One query; the programme
    page then asks worklist_counts and dashboard_counts of each clinic (five queries a clinic)."""
    return list(
        clinics.annotate(active_patients=Count("patients", filter=Q(patients__is_active=True))).order_by("name")
    )


# Search --------------------------------------------------------------------------------------------

SEARCH_LIMIT = 25


def patient_search(*, query: str, clinics: Clinics, limit: int = SEARCH_LIMIT) -> list[Patient]:
    """Patients of `clinics` whose name or medical record number contains every word typed (active
    ones first). With nothing typed: the first active patients by name. One query."""
    patients = Patient.objects.filter(clinic__in=clinics).select_related("care_status")
    for term in query.split()[:5]:
        patients = patients.filter(
            Q(given_name__icontains=term) | Q(family_name__icontains=term) | Q(mrn__icontains=term)
        )
    if not query.strip():
        patients = patients.filter(is_active=True)
    return list(patients.order_by("-is_active", "family_name", "given_name", "pk")[:limit])


# The injection form --------------------------------------------------------------------------------

# GUIDANCE.md schedules; a dose this much earlier asks the nurse to confirm it.
EARLY_MAINTENANCE_DAYS = 7  # maintenance: more than 7 days before the next injection is due
EARLY_LOADING_DAYS = 5  # loading: less than 5 days after the previous dose


def early_dose_limit(interval_days: int | None) -> int:
    """How many days before it is due a maintenance dose may come without a question: a week, or less
    than half a physician's interval in days (3 for a weekly regimen, 7 for a two-weekly one)."""
    return EARLY_MAINTENANCE_DAYS if interval_days is None else min(EARLY_MAINTENANCE_DAYS, interval_days // 2)


def injection_early_warning(*, patient: Patient, given_at: datetime.datetime) -> str | None:
    """A warning when a dose comes much earlier than due: in maintenance, more than early_dose_limit()
    days before the next injection is due; in loading, less than EARLY_LOADING_DAYS after the previous
    dose. None when the dose is on time."""
    status = getattr(patient, "care_status", None)
    if status is None:
        return None
    day = timezone.localdate(given_at)
    if status.phase == Phase.MAINTENANCE and status.next_injection_due is not None:
        early = (status.next_injection_due - day).days
        if early > early_dose_limit(status.maintenance_interval_days):
            return (
                f"This dose is {early} days early: the next maintenance injection is due on "
                f"{status.next_injection_due.day} {status.next_injection_due:%b %Y}. Tick the box to confirm it."
            )
    if status.phase == Phase.LOADING:
        previous = (
            patient.injections.filter(given_at__lte=given_at, voided_at__isnull=True).order_by("-given_at").first()
        )
        if previous is not None:
            gap = (day - timezone.localdate(previous.given_at)).days
            if gap < EARLY_LOADING_DAYS:
                return (
                    f"Only {gap} day(s) after the previous loading dose ({timezone.localdate(previous.given_at):%d %b %Y}); "
                    f"loading doses are given about 7 days apart. Tick the box to confirm it."
                )
    return None
