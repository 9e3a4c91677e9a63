"""The dashboard's hand-written SQL (care.selectors) says what its ORM definition said.

The ORM querysets below are the definitions the statements replaced (issue 16: they cost as much
Python per request as the database took to answer them). On a generated population spread over two
clinics, with acknowledgements that do and do not cover an alert and oral-switch declines with and
without a newer lab, every count and every list (order included) must be the same for every filter,
set of clinics and limit. Runs on SQLite by default and on PostgreSQL with DATABASE_URL.
"""

from __future__ import annotations

import datetime
import io
import itertools

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet

from accounts.models import Clinic
from care import selectors
from care.models import CareAlert, CareStatus, Phase, Severity, Verdict
from clinic import actions
from patients.models import Cause, Decision, LabResult, Patient

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 1)


def _covering() -> QuerySet[Decision]:
    return Decision.objects.filter(
        patient=OuterRef("patient"),
        kind=Decision.Kind.ALERT_ACKNOWLEDGED,
        alert_rule=OuterRef("rule"),
        alert_since__gte=OuterRef("since"),
    )


def _awaiting_oral() -> Q:
    newer_lab = LabResult.objects.filter(
        patient=OuterRef("patient"), entered_at__gt=OuterRef("made_at"), voided_at__isnull=True
    )
    declined = Decision.objects.filter(patient=OuterRef("patient"), kind=Decision.Kind.ORAL_SWITCH_DECLINED).filter(
        ~Exists(newer_lab)
    )
    return Q(verdict=Verdict.ORAL_SWITCH_CANDIDATE) & ~Q(phase=Phase.ORAL) & ~Q(Exists(declined))


def reference(clinics: QuerySet[Clinic], filters: selectors.DashboardFilters, limit: int | None) -> dict:
    """The dashboard as the ORM defined it before issue 16 (patient ids per list, and the counts)."""
    statuses = CareStatus.objects.filter(patient_active=True, clinic__in=clinics)
    alerts = CareAlert.objects.filter(clinic__in=clinics, severity__gte=Severity.MEDIUM)
    if filters.alert_rule:
        statuses = statuses.filter(
            Exists(CareAlert.objects.filter(patient=OuterRef("patient"), rule=filters.alert_rule))
        )
        alerts = alerts.filter(rule=filters.alert_rule)
    if filters.cause:
        has_cause = Exists(Cause.objects.filter(patient=OuterRef("patient"), kind=filters.cause))
        statuses, alerts = statuses.filter(has_cause), alerts.filter(has_cause)
    lost_before = TODAY - datetime.timedelta(days=selectors.LOST_TO_FOLLOW_UP_DAYS)
    soon = TODAY + datetime.timedelta(days=selectors.DASHBOARD_RECHECK_DAYS)
    lists = {
        "overdue": (Q(next_injection_due__lt=TODAY, next_injection_due__gte=lost_before), "next_injection_due"),
        "lost": (Q(next_injection_due__lt=lost_before), "next_injection_due"),
        "rechecks_soon": (Q(next_recheck_due__gte=TODAY, next_recheck_due__lte=soon), "next_recheck_due"),
        "rechecks_overdue": (Q(next_recheck_due__lt=TODAY), "next_recheck_due"),
    }
    names = ("patient__family_name", "patient__given_name", "pk")
    shown = {
        name: list(statuses.filter(q).order_by(by, *names).values_list("patient_id", flat=True)[:limit])
        for name, (q, by) in lists.items()
    }
    shown["oral_candidates"] = list(
        statuses.filter(_awaiting_oral()).order_by(*names).values_list("patient_id", flat=True)[:limit]
    )
    unacknowledged = alerts.exclude(Exists(_covering()))
    shown["alerts"] = list(
        unacknowledged.order_by("-severity", "since", "pk").values_list("patient_id", "rule")[:limit]
    )
    counts = {name: statuses.filter(q).count() for name, (q, _) in lists.items()}
    counts["oral_candidates"] = statuses.filter(_awaiting_oral()).count()
    by_severity = dict(unacknowledged.values_list("severity").annotate(n=Count("pk")).values_list("severity", "n"))
    counts["alerts_high"] = by_severity.get(Severity.HIGH, 0)
    counts["alerts_medium"] = by_severity.get(Severity.MEDIUM, 0)
    return {"lists": shown, "counts": counts}


def shown(board: selectors.Dashboard) -> dict:
    rows = {name: [row.status.patient_id for row in getattr(board, name)] for name in selectors.Dashboard.ROW_LISTS}
    rows["oral_candidates"] = [status.patient_id for status in board.oral_candidates]
    rows["alerts"] = [(row.care_alert.patient_id, row.care_alert.rule) for row in board.alerts]
    return {"lists": rows, "counts": board.counts}


@pytest.fixture
def population(physician) -> tuple[Clinic, Clinic]:
    """250 generated patients, a third of them moved to a second clinic; acknowledgements covering an
    alert and not (an older occurrence); oral-switch declines with and without a newer lab."""
    with time_machine.travel(datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC), tick=False):
        call_command(
            "generate_clinic", "--patients", "250", "--seed", "16", "--today", "2026-03-01", stdout=io.StringIO()
        )
        first = Clinic.objects.get()
        second = Clinic.objects.create(name="Second", slug="second")
        for clinic in (first, second):
            clinic.staff.add(physician)
        for patient in Patient.objects.filter(is_active=True).order_by("pk")[::3]:
            actions.patient_transfer(patient=patient, clinic=second, reason="Moved house", by=physician)
    made_at = datetime.datetime(2026, 2, 28, 12, 0, tzinfo=datetime.UTC)
    for n, alert in enumerate(CareAlert.objects.filter(severity__gte=Severity.MEDIUM).order_by("pk")[:40]):
        older = n % 4 == 0  # acknowledged an earlier occurrence: does not cover this one
        since = alert.since - datetime.timedelta(days=1) if older else alert.since
        Decision.objects.create(
            patient_id=alert.patient_id, kind=Decision.Kind.ALERT_ACKNOWLEDGED, made_by=physician,
            made_at=made_at, reason="Seen", alert_rule=alert.rule, alert_since=since,
        )  # fmt: skip
    candidates = CareStatus.objects.filter(verdict=Verdict.ORAL_SWITCH_CANDIDATE).exclude(phase=Phase.ORAL)
    declined = list(candidates.order_by("pk").filter(patient__labs__isnull=False).distinct()[:6])
    assert declined, "the population has oral-switch candidates with labs"
    for status in declined:  # after the patient's last lab: the decline stands
        last = LabResult.objects.filter(patient_id=status.patient_id).aggregate(last=Max("entered_at"))["last"]
        Decision.objects.create(
            patient_id=status.patient_id, kind=Decision.Kind.ORAL_SWITCH_DECLINED, made_by=physician,
            made_at=last + datetime.timedelta(hours=1), reason="No",
        )  # fmt: skip
    return first, second


def test_the_statements_give_what_the_orm_definitions_gave(population: tuple[Clinic, Clinic]) -> None:
    first, second = population
    rules = list(CareAlert.objects.values_list("rule", flat=True).distinct().order_by("rule"))[:2]
    causes = list(Cause.objects.values_list("kind", flat=True).distinct().order_by("kind"))[:2]
    clinic_sets = {
        "every clinic": Clinic.objects.all(),
        "the first": Clinic.objects.filter(pk=first.pk),
        "the second, as a list": [second],
        "none": Clinic.objects.none(),
    }
    filters = [
        selectors.DashboardFilters(alert_rule=rule, cause=cause)
        for rule, cause in itertools.product(["", *rules], ["", *causes])
    ]
    compared = 0
    for (label, clinics), chosen, limit in itertools.product(clinic_sets.items(), filters, (None, 3)):
        as_queryset = (
            clinics if isinstance(clinics, QuerySet) else Clinic.objects.filter(pk__in=[c.pk for c in clinics])
        )
        expected = reference(as_queryset, chosen, limit)
        board = selectors.dashboard(today=TODAY, clinics=clinics, filters=chosen, limit=limit)
        assert shown(board) == expected, (label, chosen, limit)
        assert selectors.dashboard_counts(today=TODAY, clinics=clinics, filters=chosen) == expected["counts"]
        compared += 1
    # The population is varied enough for the comparison to mean something.
    every = reference(Clinic.objects.all(), selectors.DashboardFilters(), None)
    assert all(every["lists"][name] for name in every["lists"] if name != "oral_candidates"), every["counts"]
    assert not every["lists"]["oral_candidates"], "the candidates are declined (until below)"
    assert (
        every["counts"]["alerts_high"] + every["counts"]["alerts_medium"]
        < CareAlert.objects.filter(severity__gte=Severity.MEDIUM).count()
    ), "some alerts are acknowledged"
    assert compared == 4 * len(filters) * 2
    # A decline older than a lab result no longer stands: the candidate is listed again.
    for decision in Decision.objects.filter(kind=Decision.Kind.ORAL_SWITCH_DECLINED):
        decision.made_at = LabResult.objects.filter(patient=decision.patient).aggregate(first=Min("entered_at"))[
            "first"
        ]
        decision.made_at -= datetime.timedelta(days=1)
        decision.save()
    reopened = reference(Clinic.objects.all(), selectors.DashboardFilters(), None)
    assert reopened["counts"]["oral_candidates"] > every["counts"]["oral_candidates"]
    board = selectors.dashboard(today=TODAY, clinics=Clinic.objects.all(), limit=None)
    assert shown(board) == reopened


def test_rows_are_model_instances_with_their_patient_as_the_orm_built_them(population: tuple[Clinic, Clinic]) -> None:
    board = selectors.dashboard(today=TODAY, clinics=Clinic.objects.all(), limit=5)
    status = board.overdue[0].status
    stored = CareStatus.objects.select_related("patient").get(pk=status.pk)
    for name in ("patient_id", "verdict", "verdict_rules", "next_injection_due", "next_recheck_due", "recheck_labs"):
        assert getattr(status, name) == getattr(stored, name), name
    assert status.latest_b12 == stored.latest_b12
    assert isinstance(status.next_injection_due, datetime.date) and isinstance(status.verdict_rules, list)
    assert (status.patient.pk, status.patient.mrn, status.patient.full_name, status.patient.birth_date) == (
        stored.patient.pk, stored.patient.mrn, stored.patient.full_name, stored.patient.birth_date,
    )  # fmt: skip
    alert = board.alerts[0].care_alert
    assert isinstance(alert.since, datetime.date) and alert.patient.mrn == Patient.objects.get(pk=alert.patient_id).mrn
