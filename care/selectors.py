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
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, models
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Clinic
from care.models import CareAlert, CareStatus, Phase, PopulationEvaluation, Severity, Verdict
from patients.models import Cause, CauseKind, Decision, LabResult, Patient
from patients.selectors import Clinics, clinic_ids
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

    ROW_LISTS = ("overdue", "lost", "rechecks_soon", "rechecks_overdue")  # rows of a status (`row.status`)

    def patient_ids(self) -> set[int]:
        """Every patient the board lists (for the access log)."""
        rows = [row for name in self.ROW_LISTS for row in getattr(self, name)]
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


def unacknowledged_alerts(clinics: Clinics) -> QuerySet[CareAlert]:
    """Active patients' alerts that no acknowledgement covers (`_covering_acknowledgement`; the
    dashboard's SQL below says the same in `_COVERED`)."""
    return CareAlert.objects.filter(clinic__in=clinics).exclude(Exists(_covering_acknowledgement()))


# The dashboard's statements -------------------------------------------------------------------------
# The physician's dashboard is the page most often opened and the one with the most queries. Built by
# the ORM, its ten queries cost about as much Python each request (building the Q objects, compiling
# the subqueries, some 10 ms) as PostgreSQL took to answer them (bench/README.md). So they are written
# once here in plain SQL that PostgreSQL and SQLite both run, with the filters as parameters; the same
# statements serve the page, its CSV exports, the staff digest and the programme page. The ORM
# definitions they replaced are kept as tests (tests/ui/test_dashboard_sql.py compares the two on
# every list, count and filter).

_STATUS, _PATIENT, _ALERT = CareStatus._meta.db_table, Patient._meta.db_table, CareAlert._meta.db_table
_DECISION, _LAB, _CAUSE = Decision._meta.db_table, LabResult._meta.db_table, Cause._meta.db_table

# An acknowledgement covers one occurrence of an alert `a` (as `_covering_acknowledgement`).
_COVERED = f"""EXISTS (SELECT 1 FROM {_DECISION} d WHERE d.patient_id = a.patient_id AND d.kind = %s
    AND d.alert_rule = a.rule AND d.alert_since >= a.since)"""
# Oral-switch candidates not on oral therapy whom no physician has declined since the last lab result
# was entered (a decline stands until new results reopen the question).
_AWAITING_ORAL = f"""c.verdict = %s AND c.phase <> %s AND NOT EXISTS (
    SELECT 1 FROM {_DECISION} d WHERE d.patient_id = c.patient_id AND d.kind = %s AND NOT EXISTS (
        SELECT 1 FROM {_LAB} l WHERE l.patient_id = d.patient_id AND l.entered_at > d.made_at
            AND l.voided_at IS NULL))"""
_AWAITING_ORAL_PARAMS = [Verdict.ORAL_SWITCH_CANDIDATE, Phase.ORAL, Decision.Kind.ORAL_SWITCH_DECLINED]


def _in_model_order(model: type[models.Model], names: Iterable[str]) -> tuple[str, ...]:
    """`names` (and the primary key) in the order of the model's fields: Model.from_db takes the values
    of the fields it is given in that order."""
    wanted = {model._meta.get_field(name).attname for name in names} | {"id"}
    return tuple(f.name for f in model._meta.concrete_fields if f.attname in wanted)


_STATUS_COLUMNS = _in_model_order(CareStatus, (name for name in _DASHBOARD_ROW if not name.startswith("patient__")))
_PATIENT_COLUMNS = _in_model_order(Patient, (name.removeprefix("patient__") for name in _LISTED_PATIENT))
_ALERT_COLUMNS = _in_model_order(CareAlert, (name for name in _ALERT_ROW if not name.startswith("patient__")))


def _placeholders(values: list[object]) -> str:
    return ", ".join(["%s"] * len(values))


def _select(model: type[models.Model], alias: str, names: tuple[str, ...]) -> str:
    return ", ".join(f"{alias}.{model._meta.get_field(name).column}" for name in names)


class _Rows:
    """Model instances from a statement's rows, converted as the ORM converts them (dates and JSON
    from SQLite's text, decimals), each with its patient attached: what `.only(...)` with
    `select_related("patient")` would give, so templates and exports read them as before."""

    def __init__(self, model: type[models.Model], names: tuple[str, ...]) -> None:
        self.model = model
        self.attnames = [model._meta.get_field(name).attname for name in names]
        self.patient_attnames = [Patient._meta.get_field(name).attname for name in _PATIENT_COLUMNS]
        self.width = len(names)
        self.converters = [self._converters(model, name) for name in names] + [
            self._converters(Patient, name) for name in _PATIENT_COLUMNS
        ]

    @staticmethod
    def _converters(model: type[models.Model], name: str) -> tuple[list, object]:
        column = model._meta.get_field(name).get_col(model._meta.db_table)
        return connection.ops.get_db_converters(column) + column.get_db_converters(connection), column

    def build(self, rows: list[tuple]) -> list:
        built = []
        for row in rows:
            values = list(row)
            for position, (converters, column) in enumerate(self.converters):
                for convert in converters:
                    values[position] = convert(values[position], column, connection)
            instance = self.model.from_db(connection.alias, self.attnames, values[: self.width])
            instance.patient = Patient.from_db(connection.alias, self.patient_attnames, values[self.width :])
            built.append(instance)
        return built


@dataclass(frozen=True)
class _DashboardSQL:
    """The WHERE clauses (and their parameters) of the dashboard's statuses (`c`, joined to their
    patient `p`) and of its alerts (`a`) for some clinics and filters."""

    today: datetime.date
    statuses: str
    status_params: list[object]
    alerts: str  # high and medium alerts, acknowledged or not
    alert_params: list[object]

    @classmethod
    def of(cls, today: datetime.date, filters: DashboardFilters, clinic_ids: list[int]) -> _DashboardSQL:
        statuses = f"c.patient_active = %s AND c.clinic_id IN ({_placeholders(clinic_ids)})"
        status_params: list[object] = [True, *clinic_ids]
        alerts = f"a.clinic_id IN ({_placeholders(clinic_ids)}) AND a.severity >= %s"
        alert_params: list[object] = [*clinic_ids, Severity.MEDIUM]
        if filters.alert_rule:
            statuses += f" AND EXISTS (SELECT 1 FROM {_ALERT} fa WHERE fa.patient_id = c.patient_id AND fa.rule = %s)"
            status_params.append(filters.alert_rule)
            alerts += " AND a.rule = %s"
            alert_params.append(filters.alert_rule)
        if filters.cause:
            cause = f"EXISTS (SELECT 1 FROM {_CAUSE} fc WHERE fc.patient_id = {{}}.patient_id AND fc.kind = %s)"
            statuses += " AND " + cause.format("c")
            status_params.append(filters.cause)
            alerts += " AND " + cause.format("a")
            alert_params.append(filters.cause)
        return cls(today, statuses, status_params, alerts, alert_params)

    @property
    def recheck_until(self) -> datetime.date:
        return self.today + datetime.timedelta(days=DASHBOARD_RECHECK_DAYS)

    @property
    def lost_before(self) -> datetime.date:
        return self.today - datetime.timedelta(days=LOST_TO_FOLLOW_UP_DAYS)

    def lists(self) -> dict[str, tuple[str, list[object], str]]:
        """Each status list: (condition, its parameters, order)."""
        by_due, by_recheck = "c.next_injection_due, p.family_name, p.given_name, c.id", "c.next_recheck_due, "
        by_recheck += "p.family_name, p.given_name, c.id"
        return {
            "overdue": (
                "c.next_injection_due < %s AND c.next_injection_due >= %s",
                [self.today, self.lost_before],
                by_due,
            ),
            "lost": ("c.next_injection_due < %s", [self.lost_before], by_due),
            "rechecks_soon": (
                "c.next_recheck_due >= %s AND c.next_recheck_due <= %s",
                [self.today, self.recheck_until],
                by_recheck,
            ),
            "rechecks_overdue": ("c.next_recheck_due < %s", [self.today], by_recheck),
            "oral_candidates": (_AWAITING_ORAL, _AWAITING_ORAL_PARAMS, "p.family_name, p.given_name, c.id"),
        }


def _fetch(sql: str, params: list[object]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _alert_counts(sql: _DashboardSQL) -> dict[int, int]:
    """The unacknowledged alerts by severity, as every alert less the acknowledged ones: two statements
    that read no acknowledgement per alert (the acknowledged ones are found from the acknowledgements'
    side, among the few patients with one). The anti-join would look one up for each of the tens of
    thousands of alerts. count(severity), not count(*): the (clinic, severity) index answers alone."""
    every = f"SELECT a.severity, count(a.severity) FROM {_ALERT} a WHERE {sql.alerts} GROUP BY a.severity"
    acknowledged = (
        f"SELECT a.severity, count(a.severity) FROM {_ALERT} a WHERE {sql.alerts} AND a.patient_id IN "
        f"(SELECT patient_id FROM {_DECISION} WHERE kind = %s) AND {_COVERED} GROUP BY a.severity"
    )
    kind = Decision.Kind.ALERT_ACKNOWLEDGED
    counted = dict(_fetch(every, sql.alert_params))
    covered = dict(_fetch(acknowledged, [*sql.alert_params, kind, kind]))
    return {severity: n - covered.get(severity, 0) for severity, n in counted.items()}


def _counts(sql: _DashboardSQL) -> dict[str, int]:
    lists = sql.lists()
    # One pass over the due-date index for the four lists of due dates, with the lists' own conditions;
    # count(patient_id), not the status id or *: the index includes it and answers alone.
    due = ", ".join(f"count(c.patient_id) FILTER (WHERE {lists[name][0]})" for name in Dashboard.ROW_LISTS)
    params = [value for name in Dashboard.ROW_LISTS for value in lists[name][1]]
    [found] = _fetch(f"SELECT {due} FROM {_STATUS} c WHERE {sql.statuses}", [*params, *sql.status_params])
    counts = dict(zip(Dashboard.ROW_LISTS, found, strict=True))
    oral = f"SELECT count(*) FROM {_STATUS} c WHERE {sql.statuses} AND {_AWAITING_ORAL}"
    [(counts["oral_candidates"],)] = _fetch(oral, [*sql.status_params, *_AWAITING_ORAL_PARAMS])
    by_severity = _alert_counts(sql)
    counts["alerts_high"] = by_severity.get(Severity.HIGH, 0)
    counts["alerts_medium"] = by_severity.get(Severity.MEDIUM, 0)
    return counts


_NO_COUNTS = dict.fromkeys((*Dashboard.ROW_LISTS, "oral_candidates", "alerts_high", "alerts_medium"), 0)


def dashboard_counts(
    *, today: datetime.date, clinics: Clinics, filters: DashboardFilters | None = None
) -> dict[str, int]:
    """The dashboard's counts: overdue injections, lost to follow-up, rechecks soon and overdue,
    oral-switch candidates awaiting a decision, unacknowledged high and medium alerts. The dashboard
    and the physicians' digest both show these. Four statements (and one for a queryset of clinics)."""
    ids = clinic_ids(clinics)
    if not ids:
        return dict(_NO_COUNTS)
    return _counts(_DashboardSQL.of(today, filters or DashboardFilters(), ids))


def dashboard(
    *,
    today: datetime.date,
    clinics: Clinics,
    filters: DashboardFilters | None = None,
    limit: int | None = LIST_LIMIT,
) -> Dashboard:
    """The physician's panel: counts and lists, at most `limit` rows a list. Ten statements whatever
    the number of patients (and one for a queryset of clinics)."""
    filters = filters or DashboardFilters()
    ids = clinic_ids(clinics)
    sql = _DashboardSQL.of(today, filters, ids)
    board = Dashboard(
        today=today,
        filters=filters,
        counts=dict(_NO_COUNTS),
        recheck_until=sql.recheck_until,
        lost_before=sql.lost_before,
        limit=limit,
    )
    if not ids:
        return board
    board.counts = _counts(sql)
    rows = _Rows(CareStatus, _STATUS_COLUMNS)
    columns = f"{_select(CareStatus, 'c', _STATUS_COLUMNS)}, {_select(Patient, 'p', _PATIENT_COLUMNS)}"
    limited, limit_params = (" LIMIT %s", [limit]) if limit is not None else ("", [])
    lists = {}
    for name, (condition, params, order) in sql.lists().items():
        statement = (
            f"SELECT {columns} FROM {_STATUS} c JOIN {_PATIENT} p ON p.id = c.patient_id "
            f"WHERE {sql.statuses} AND {condition} ORDER BY {order}{limited}"
        )
        lists[name] = rows.build(_fetch(statement, [*sql.status_params, *params, *limit_params]))
    board.overdue = [InjectionDue(s, (today - s.next_injection_due).days) for s in lists["overdue"]]
    board.lost = [InjectionDue(s, (today - s.next_injection_due).days) for s in lists["lost"]]
    board.rechecks_soon = [RecheckDue(s, (s.next_recheck_due - today).days) for s in lists["rechecks_soon"]]
    board.rechecks_overdue = [RecheckDue(s, (s.next_recheck_due - today).days) for s in lists["rechecks_overdue"]]
    board.oral_candidates = lists["oral_candidates"]
    alerts = (
        f"SELECT {_select(CareAlert, 'a', _ALERT_COLUMNS)}, {_select(Patient, 'p', _PATIENT_COLUMNS)} "
        f"FROM {_ALERT} a JOIN {_PATIENT} p ON p.id = a.patient_id WHERE {sql.alerts} AND NOT {_COVERED} "
        f"ORDER BY a.severity DESC, a.since, a.id{limited}"
    )
    found = _fetch(alerts, [*sql.alert_params, Decision.Kind.ALERT_ACKNOWLEDGED, *limit_params])
    board.alerts = [AlertRow(alert) for alert in _Rows(CareAlert, _ALERT_COLUMNS).build(found)]
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
