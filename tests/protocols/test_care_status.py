"""The stored care status follows the facts: refreshed in the writing transaction, once a day for
every active patient, re-evaluated when a profile changes, and explained rule by rule."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction

from care.explanation import care_status_explanation
from care.models import CareAlert, CareStatus, PopulationEvaluation, Severity
from care.selectors import care_status_evaluated_for
from care.selectors import evaluated_for as evaluated_for_day
from care.services import (
    care_status_refresh_all,
    care_status_refresh_deferred,
    care_status_refresh_stale,
)
from care.tasks import refresh_stale_care_statuses
from clinic import actions
from patients.models import Patient
from protocols.models import ProtocolProfile
from tests.conftest import NOW, TODAY

pytestmark = pytest.mark.django_db
LONDON = zoneinfo.ZoneInfo("Europe/London")


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def status(patient: Patient) -> CareStatus:
    return CareStatus.objects.get(patient=patient)


def evaluated_for(patient: Patient) -> datetime.date:
    return care_status_evaluated_for(status(patient))


def alert_rules(patient: Patient) -> set[str]:
    return set(CareAlert.objects.filter(patient=patient).values_list("rule", flat=True))


def highest(patient: Patient) -> Severity:
    return Severity(max(CareAlert.objects.filter(patient=patient).values_list("severity", flat=True), default=0))


def give(patient: Patient, nurse, when: datetime.datetime, now: datetime.datetime | None = None) -> None:
    """Record an injection as logged when given (`now` defaults to `when`: not back-dated)."""
    actions.injection_record(
        patient=patient,
        given_at=when,
        drug="cyanocobalamin",
        dose_mcg=1000,
        route="im",
        site="left_deltoid",
        lot_number="L1",
        lot_expiry=datetime.date(2027, 1, 31),
        given_by=nurse,
        now=now or when,
    )


def at(day: str, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=LONDON)


def test_it_evaluates_a_new_patient_at_once(patient: Patient) -> None:
    s = status(patient)
    assert (s.phase, s.next_injection_due, s.as_of) == ("not_started", TODAY, TODAY)
    assert s.verdict == "continue" and s.verdict_rules == ["STOP-CAUSE-UNKNOWN"]
    assert s.profile.slug == "monthly-cyanocobalamin" and s.profile_version == 1


def test_it_moves_the_due_date_in_the_same_transaction_as_the_injection(patient: Patient, nurse) -> None:
    with transaction.atomic():
        give(patient, nurse, at("2026-03-01", 9))
        # Seen from inside the writing transaction, before commit:
        assert (status(patient).phase, status(patient).next_injection_due) == ("loading", datetime.date(2026, 3, 8))


def test_it_rolls_the_status_back_with_a_failed_write(patient: Patient, nurse) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        give(patient, nurse, at("2026-03-01", 9))
        assert status(patient).phase == "loading"
        raise Boom
    assert status(patient).phase == "not_started"


def test_it_follows_a_lab_result_and_its_correction(patient: Patient, nurse) -> None:
    lab = actions.lab_result_record(
        patient=patient, analyte="b12", value="250", unit="pg/mL", collected_on=TODAY, entered_by=nurse, today=TODAY
    )
    s = status(patient)
    assert "ALERT-B12-BORDERLINE" in alert_rules(patient) and s.latest_b12 == Decimal("250")
    assert highest(patient) == Severity.MEDIUM
    actions.lab_result_correct(
        lab=lab, value="453", unit="pmol/L", by=nurse, reason="typed in the wrong unit", today=TODAY
    )
    s = status(patient)
    assert "ALERT-B12-BORDERLINE" not in alert_rules(patient)
    assert s.latest_b12 == Decimal("613.9875") and s.latest_b12_category == "normal"


def test_it_follows_symptom_checks_medications_causes_and_flags(patient: Patient, nurse, physician) -> None:
    actions.medication_start(patient=patient, name="folic_acid", start=TODAY, recorded_by=nurse, today=TODAY)
    assert {"ALERT-FOLIC-BEFORE-B12", "ALERT-FOLIC-NO-DEFICIENCY"} <= alert_rules(patient)
    assert highest(patient) == Severity.HIGH

    actions.cause_add(patient=patient, kind="pernicious_anemia", by=physician, today=TODAY)
    assert status(patient).verdict == "lifelong"

    actions.patient_update(patient=patient, data={"neurological_involvement": True}, by=physician, today=TODAY)
    actions.regimen_set_profile(
        regimen=patient.regimen, profile=ProtocolProfile.objects.get(slug="hydroxocobalamin-3-monthly"), by=physician
    )
    assert status(patient).maintenance_interval_months == 2  # SCHED-NEURO-INTERVAL
    assert status(patient).because["maintenance_interval_months"] == ["SCHED-NEURO-INTERVAL"]

    actions.decision_set_interval(patient=patient, months=1, reason="numbness returns", by=physician)
    s = status(patient)
    assert (s.maintenance_interval_months, s.suggested_interval_months) == (1, 2)

    actions.symptom_check_record(
        patient=patient, checked_on=TODAY, neurological=True, depression=False, recorded_by=nurse, today=TODAY
    )
    assert status(patient).rules  # evaluated again without error


def test_it_uses_the_clinics_calendar_day_for_an_injection(patient: Patient, nurse) -> None:
    with time_machine.travel(at("2026-07-01", 12), tick=False):
        actions.injection_record(
            patient=patient,
            given_at=datetime.datetime(2026, 6, 30, 23, 30, tzinfo=datetime.UTC),
            drug="cyanocobalamin",
            dose_mcg=1000,
            route="im",
            site="left_deltoid",
            lot_number="L1",
            lot_expiry=datetime.date(2027, 1, 31),
            given_by=nurse,
        )
        # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST), so the next loading dose is 8 July.
        assert status(patient).next_injection_due == datetime.date(2026, 7, 8)


def test_the_daily_refresh_raises_overdue_alerts_without_anyone_touching_the_record(
    patient: Patient, nurse, clock
) -> None:
    give(patient, nurse, at("2026-03-01", 9))
    assert "ALERT-INJECTION-OVERDUE" not in alert_rules(patient)
    clock.move_to(at("2026-03-10", 1))
    assert refresh_stale_care_statuses() == 1
    assert evaluated_for(patient) == datetime.date(2026, 3, 10)
    assert "ALERT-INJECTION-OVERDUE" in alert_rules(patient) and highest(patient) == Severity.HIGH
    assert refresh_stale_care_statuses() == 0  # the day's work is done; a second run changes nothing


def test_the_daily_refresh_skips_discharged_patients(make_patient, nurse) -> None:
    kept, gone = make_patient(), make_patient()
    for patient in (kept, gone):  # alerts to show, or not
        actions.medication_start(patient=patient, name="folic_acid", start=TODAY, recorded_by=nurse, today=TODAY)
    actions.patient_discharge(patient=gone, by=nurse)
    with time_machine.travel(at("2026-03-05"), tick=False):
        summary = care_status_refresh_stale()
    assert summary.patients == 1
    assert evaluated_for(kept) == datetime.date(2026, 3, 5)
    assert evaluated_for(gone) == TODAY  # not re-evaluated since the discharge
    # Discharged: the status says so, and none of its alerts waits on a dashboard.
    assert (status(kept).patient_active, status(gone).patient_active) == (True, False)
    assert not CareAlert.objects.filter(patient=gone).exists()
    assert CareAlert.objects.filter(patient=kept).exists()


def test_the_refresh_runs_in_a_constant_number_of_queries(make_patient, nurse, django_assert_max_num_queries) -> None:
    for _ in range(3):
        patient = make_patient()
        give(patient, nurse, at("2026-03-01", 9))
        actions.lab_result_record(
            patient=patient, analyte="b12", value=400, unit="pg/mL", collected_on=TODAY, entered_by=nurse, today=TODAY
        )
    # 16: the record (8), the statuses and alerts (6), the latest day each lab was drawn or not (2).
    with django_assert_max_num_queries(16):
        small = care_status_refresh_all()
    for _ in range(12):
        make_patient()
    with django_assert_max_num_queries(16):
        large = care_status_refresh_all()
    assert (small.patients, large.patients) == (3, 15)


def test_a_profile_change_is_a_new_version_and_re_evaluates_its_patients(patient: Patient, nurse) -> None:
    for day in ("2026-02-08", "2026-02-15", "2026-02-22", "2026-03-01"):
        give(patient, nurse, at(day))
    assert status(patient).next_injection_due == datetime.date(2026, 4, 1)
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    profile.maintenance_interval_months = 2
    actions.protocol_profile_publish(profile=profile)
    profile.refresh_from_db()
    assert profile.version == 2
    s = status(patient)
    assert (s.profile_version, s.next_injection_due) == (2, datetime.date(2026, 5, 1))
    assert profile.history.filter(version=1).exists()


def _explained(patient: Patient) -> dict[str, object]:
    return {rule.id: rule for rule in care_status_explanation(status(patient), alerts=patient.care_alerts.all())}


def test_it_explains_each_rule_once_with_the_results_it_shaped(make_patient, physician, nurse) -> None:
    patient = make_patient()
    actions.cause_add(patient=patient, kind="ileal_resection", length_cm=40, by=physician, today=TODAY)
    give(patient, nurse, at("2026-02-01"))
    explained = _explained(patient)
    assert list(explained) == list(dict.fromkeys(explained))  # each rule once
    ileal = explained["STOP-ILEAL"]
    assert "20 cm" in ileal.text
    assert ileal.sources and not any(source.endswith(".txt") for source in ileal.sources)  # titles, not files
    assert [f.label for f in explained["SCHED-ILEAL"].findings] == [
        "Maintenance interval",
        "The protocol's own interval",
    ]
    overdue = explained["ALERT-INJECTION-OVERDUE"]
    assert overdue.findings[0].label == "Alert (high)" and "overdue" in overdue.findings[0].value


def test_the_explanation_states_the_numbers_of_the_profile_version_in_force(make_patient, physician, nurse) -> None:
    patient = make_patient()
    actions.cause_add(patient=patient, kind="ileal_resection", length_cm=40, by=physician, today=TODAY)
    assert "20 cm" in _explained(patient)["STOP-ILEAL"].text
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    profile.ileal_over_cm = 30
    actions.protocol_profile_publish(profile=profile)
    text = _explained(patient)["STOP-ILEAL"].text
    assert "30 cm" in text and "20 cm" not in text
    # An evaluation made with an older version states that version's numbers.
    CareStatus.objects.filter(patient=patient).update(profile_version=1)
    assert "20 cm" in _explained(patient)["STOP-ILEAL"].text


def test_a_deferred_block_refreshes_each_patient_once_at_its_end(patient: Patient, nurse) -> None:
    with transaction.atomic(), care_status_refresh_deferred():
        for day in ("2026-02-08", "2026-02-15", "2026-02-22"):
            give(patient, nurse, at(day))
        assert status(patient).phase == "not_started"  # not yet: refreshed when the block ends
    assert (status(patient).phase, status(patient).loading_doses_given) == ("loading", 3)


def test_an_alert_keeps_the_date_it_has_been_active_since(patient: Patient, nurse, clock) -> None:
    give(patient, nurse, at("2026-03-01", 9))
    clock.move_to(at("2026-03-10", 1))
    care_status_refresh_stale()
    overdue = CareAlert.objects.get(patient=patient, rule="ALERT-INJECTION-OVERDUE")
    assert overdue.since == datetime.date(2026, 3, 10)
    clock.move_to(at("2026-03-12", 1))
    care_status_refresh_stale()
    overdue = CareAlert.objects.get(patient=patient, rule="ALERT-INJECTION-OVERDUE")
    assert overdue.since == datetime.date(2026, 3, 10) and "overdue by 4 days" in overdue.message
    give(patient, nurse, at("2026-03-12", 0), now=at("2026-03-12", 1))
    assert "ALERT-INJECTION-OVERDUE" not in alert_rules(patient)


def test_the_alert_table_holds_one_row_per_active_alert(patient: Patient, nurse, clock) -> None:
    actions.medication_start(patient=patient, name="folic_acid", start=TODAY, recorded_by=nurse, today=TODAY)
    rows = {(a.rule, a.severity_name, a.since) for a in CareAlert.objects.filter(patient=patient)}
    assert rows == {("ALERT-FOLIC-BEFORE-B12", "high", TODAY), ("ALERT-FOLIC-NO-DEFICIENCY", "medium", TODAY)}
    actions.lab_result_record(
        patient=patient, analyte="folate", value="2", unit="ng/mL", collected_on=TODAY, entered_by=nurse, today=TODAY
    )
    assert alert_rules(patient) == {"ALERT-FOLIC-BEFORE-B12"}


def test_an_unchanged_status_is_not_rewritten(patient: Patient, nurse, clock) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    give(patient, nurse, at("2026-03-01", 9))  # due 8 March: nothing changes on 2 March but the date
    before = status(patient)
    clock.move_to(at("2026-03-02", 1))
    with CaptureQueriesContext(connection) as queries:
        care_status_refresh_stale()
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]
    # Not even a new date on the unchanged row: the day's one marker row says it was evaluated.
    assert len(writes) == 1 and "care_populationevaluation" in writes[0]
    after = status(patient)
    assert after.as_of == before.as_of and after.fingerprint == before.fingerprint
    assert evaluated_for(patient) == datetime.date(2026, 3, 2)
    clock.move_to(at("2026-03-09", 1))  # now overdue: the status changes and is rewritten
    care_status_refresh_stale()
    assert status(patient).fingerprint != before.fingerprint
    assert "ALERT-INJECTION-OVERDUE" in alert_rules(patient)


# The day's marker: a status left unchanged by the daily refresh holds for the day of the refresh.


@pytest.mark.parametrize(
    ("as_of", "patient_active", "population", "expected"),
    [
        ("2026-03-01", True, None, "2026-03-01"),  # no daily refresh yet: the status's own day
        ("2026-03-01", True, "2026-03-05", "2026-03-05"),  # re-evaluated unchanged since
        ("2026-03-05", True, "2026-03-05", "2026-03-05"),
        ("2026-03-06", True, "2026-03-05", "2026-03-06"),  # rewritten after the refresh
        ("2026-03-01", False, "2026-03-05", "2026-03-01"),  # discharged: not re-evaluated daily
    ],
)
def test_a_status_holds_for_the_later_of_its_own_day_and_the_days_refresh(
    as_of: str, patient_active: bool, population: str | None, expected: str
) -> None:
    day = datetime.date.fromisoformat
    assert evaluated_for_day(
        as_of=day(as_of), patient_active=patient_active, population=day(population) if population else None
    ) == day(expected)


def test_a_status_unchanged_for_days_shows_the_day_it_was_last_evaluated_for(patient: Patient, nurse, clock) -> None:
    give(patient, nurse, at("2026-03-01", 9))  # due 8 March: nothing changes from 2 to 7 March
    written = status(patient)
    for day in ("2026-03-02", "2026-03-03", "2026-03-04"):
        clock.move_to(at(day, 1))
        refresh_stale_care_statuses()
        assert evaluated_for(patient) == datetime.date.fromisoformat(day)
    assert status(patient).as_of == written.as_of and status(patient).evaluated_at == written.evaluated_at
    assert PopulationEvaluation.objects.count() == 3
    clock.move_to(at("2026-03-06", 1))  # the nightly run did not happen on 5 March
    assert evaluated_for(patient) == datetime.date(2026, 3, 4)


def test_the_stale_refresh_is_due_again_the_next_day_and_done_once_a_day(patient: Patient, nurse, clock) -> None:
    give(patient, nurse, at("2026-03-01", 9))
    clock.move_to(at("2026-03-02", 1))
    assert care_status_refresh_stale().patients == 1
    assert care_status_refresh_stale().patients == 0  # the day is done: no stamp needed to know it
    clock.move_to(at("2026-03-02", 23))
    assert care_status_refresh_stale().patients == 0
    clock.move_to(at("2026-03-03", 0))  # 00:00 in London: a new day, every active patient again
    assert care_status_refresh_stale().patients == 1
    assert evaluated_for(patient) == datetime.date(2026, 3, 3)


def test_after_the_days_refresh_a_new_patient_is_still_stale(make_patient, clock) -> None:
    first = make_patient()
    clock.move_to(at("2026-03-02", 1))
    assert care_status_refresh_stale().patients == 1
    later = make_patient()
    CareStatus.objects.filter(patient=later).delete()  # e.g. written in bulk, not yet evaluated
    assert care_status_refresh_stale().patients == 1
    assert evaluated_for(later) == evaluated_for(first) == datetime.date(2026, 3, 2)


def test_a_refresh_of_some_patients_marks_no_day(make_patient, clock) -> None:
    patient = make_patient()
    clock.move_to(at("2026-03-02", 1))
    care_status_refresh_all(patients=Patient.objects.filter(pk=patient.pk))
    assert not PopulationEvaluation.objects.exists()
    care_status_refresh_all()
    assert list(PopulationEvaluation.objects.values_list("as_of", "patients")) == [(datetime.date(2026, 3, 2), 1)]


def test_a_refresh_that_stops_halfway_marks_no_day(make_patient, clock, monkeypatch) -> None:
    from care import services

    patients = [make_patient() for _ in range(3)]  # not started: due "today", so each day rewrites them
    clock.move_to(at("2026-03-02", 1))
    real, calls = services._refresh, []

    def failing_second_chunk(ids, **kwargs):
        calls.append(ids)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(ids, **kwargs)

    monkeypatch.setattr(services, "_refresh", failing_second_chunk)
    with pytest.raises(RuntimeError):
        care_status_refresh_all(chunk_size=2)
    assert not PopulationEvaluation.objects.exists()
    monkeypatch.setattr(services, "_refresh", real)
    # The first chunk committed its rewritten statuses for the day; the next run does the rest, and
    # only then is the day marked.
    assert care_status_refresh_stale().patients == 1
    assert PopulationEvaluation.objects.get().as_of == datetime.date(2026, 3, 2)
    assert {evaluated_for(patient) for patient in patients} == {datetime.date(2026, 3, 2)}


def test_the_chart_says_the_day_an_unchanged_status_holds_for(
    patient: Patient, nurse, physician, clock, client
) -> None:
    from django.urls import reverse

    give(patient, nurse, at("2026-03-01", 9))
    for day in ("2026-03-02", "2026-03-03"):
        clock.move_to(at(day, 1))
        refresh_stale_care_statuses()
    assert status(patient).as_of == datetime.date(2026, 3, 1)  # not rewritten since the injection
    client.force_login(physician)
    chart = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "Evaluated for 3 Mar 2026" in chart
