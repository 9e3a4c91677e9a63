"""A protocol change previewed before it is published: a draft is not in force, the preview writes
nothing, and its counts are what publishing then changes in the stored care statuses."""

from __future__ import annotations

import datetime
import io
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from accounts.models import Clinic
from b12clinic.celery import app
from care.models import CareAlert, CareStatus, ProfileRun
from care.preview import profile_preview
from care.services import care_status_refresh, care_status_refresh_all
from clinic import actions
from patients.models import Patient
from protocols.models import ProtocolProfile, ProtocolProfileDraft
from protocols.selectors import draft_to_engine
from reminders.models import Reminder
from reminders.outbox import reminders_scan
from tests.conftest import NOW, TODAY

pytestmark = pytest.mark.django_db
D = datetime.date.fromisoformat


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def eager() -> Iterator[None]:
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def at(day: str, hour: int = 10) -> datetime.datetime:
    from django.utils import timezone

    return timezone.make_aware(datetime.datetime.combine(D(day), datetime.time(hour)))


def give(patient: Patient, nurse, *days: str) -> None:
    for day in days:
        actions.injection_record(
            patient=patient,
            given_at=at(day),
            drug="cyanocobalamin",
            dose_mcg=1000,
            route="im",
            site="left_deltoid",
            lot_number="L1",
            lot_expiry=datetime.date(2027, 1, 31),
            given_by=nurse,
            now=at(day),
        )


def lab(patient: Patient, nurse, day: str, value: object, analyte: str = "b12", unit: str = "pg/mL") -> None:
    actions.lab_result_record(
        patient=patient,
        analyte=analyte,
        value=value,
        unit=unit,
        collected_on=D(day),
        entered_by=nurse,
        today=TODAY,
        confirmed=("unusual_value",),
    )


LOADING = ("2025-01-03", "2025-01-10", "2025-01-17", "2025-01-24")


@pytest.fixture
def small_clinic(make_patient, nurse, physician) -> dict[str, Patient]:
    """A dozen patients in the situations a profile change moves, built through the actions."""
    p: dict[str, Patient] = {}
    p["loading"] = make_patient(mrn="P-LOAD")
    give(p["loading"], nurse, "2026-02-15", "2026-02-22")
    p["monthly"] = make_patient(mrn="P-MONTH")
    give(p["monthly"], nurse, *LOADING, "2026-02-24")
    p["overdue"] = make_patient(mrn="P-LATE")
    give(p["overdue"], nurse, *LOADING, "2025-12-24")
    p["ileal"] = make_patient(mrn="P-ILEAL")
    actions.cause_add(patient=p["ileal"], kind="ileal_resection", length_cm=25, by=physician, today=TODAY)
    give(p["ileal"], nurse, *LOADING, "2026-02-20")
    p["old"] = make_patient(mrn="P-OLD", birth_date=D("1946-01-10"))
    give(p["old"], nurse, *LOADING, "2026-02-10")
    p["low"] = make_patient(mrn="P-LOW")
    give(p["low"], nurse, *LOADING, "2026-02-24")
    lab(p["low"], nurse, "2026-02-20", 200)
    p["normal"] = make_patient(mrn="P-NORM", dietary_intake_adequate="yes")
    give(p["normal"], nurse, *LOADING, "2025-03-24", "2025-04-24", "2025-05-24", "2026-02-24")
    lab(p["normal"], nurse, "2025-05-20", 420)
    lab(p["normal"], nurse, "2025-08-20", 410)
    lab(p["normal"], nurse, "2026-02-20", 380)
    p["new"] = make_patient(mrn="P-NEW")
    p["discharged"] = make_patient(mrn="P-GONE")
    give(p["discharged"], nurse, *LOADING, "2026-01-24")
    actions.patient_discharge(patient=p["discharged"], by=nurse, reason="moved_away")
    hydroxo = ProtocolProfile.objects.get(slug="hydroxocobalamin-3-monthly")
    p["other_profile"] = make_patient(mrn="P-HYDROXO", profile=hydroxo)
    give(p["other_profile"], nurse, *LOADING, "2025-12-24")
    care_status_refresh_all(today=TODAY, patients=Patient.objects.all())
    return p


def change_draft(profile: ProtocolProfile, by, **settings: object) -> ProtocolProfileDraft:
    draft = actions.protocol_profile_draft_start(profile=profile, by=by)
    for name, value in settings.items():
        setattr(draft, name, value)
    return actions.protocol_profile_draft_save(draft=draft, by=by)


A_CHANGE = {
    "maintenance_interval_months": 2,
    "ileal_over_cm": 30,
    "age_over_years": 85,
    "b12_low_below": Decimal(250),
    "b12_normal_above": Decimal(400),
    "stable_recheck_months": 6,
    "first_year_check_months": [2, 4, 9],
}


def stored() -> dict[int, tuple[object, ...]]:
    """Every stored care status as (next injection, next recheck, verdict, alert rules, version)."""
    rules: dict[int, set[str]] = {}
    for pid, rule in CareAlert.objects.values_list("patient_id", "rule"):
        rules.setdefault(pid, set()).add(rule)
    return {
        pid: (injection, recheck, verdict, frozenset(rules.get(pid, ())), version)
        for pid, injection, recheck, verdict, version in CareStatus.objects.values_list(
            "patient_id", "next_injection_due", "next_recheck_due", "verdict", "profile_version"
        )
    }


def moves(before: dict, after: dict, index: int) -> Counter[str]:
    counted: Counter[str] = Counter()
    for pid, old in before.items():
        a, b = old[index], after[pid][index]
        if a == b:
            continue
        counted["added" if a is None else "removed" if b is None else "earlier" if b < a else "later"] += 1
    return counted


def test_the_counts_equal_what_publishing_changes_in_the_stored_statuses(
    small_clinic, clinic_admin, eager, django_capture_on_commit_callbacks
) -> None:
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    draft = change_draft(profile, clinic_admin, **A_CHANGE)
    with django_capture_on_commit_callbacks(execute=True):
        run = actions.protocol_profile_preview(draft=draft, by=clinic_admin, today=TODAY)
    run.refresh_from_db()
    assert (run.status, run.done, run.total) == ("done", 9, 9)  # the hydroxocobalamin patient is not on it
    counts = run.counts

    before = stored()
    with django_capture_on_commit_callbacks(execute=True):
        published = actions.protocol_profile_draft_publish(draft=draft, by=clinic_admin, today=TODAY)
    published.refresh_from_db()
    after = stored()
    assert (published.status, published.done, published.total) == ("done", 9, 9)

    on_profile = set(Patient.objects.filter(regimen__profile=profile).values_list("pk", flat=True))
    assert {after[pid][4] for pid in on_profile} == {2}  # each status names the version that produced it
    assert after[small_clinic["other_profile"].pk] == before[small_clinic["other_profile"].pk]
    changed = {pid for pid in before if before[pid][:4] != after[pid][:4]}
    verdicts = Counter(f"{before[pid][2]} -> {after[pid][2]}" for pid in before if before[pid][2] != after[pid][2])
    appear = Counter(rule for pid in before for rule in after[pid][3] - before[pid][3])
    disappear = Counter(rule for pid in before for rule in before[pid][3] - after[pid][3])
    assert counts == {
        "patients": 9,
        "changed": len(changed),
        "next_injection": {k: moves(before, after, 0)[k] for k in ("earlier", "later", "added", "removed")},
        "next_recheck": {k: moves(before, after, 1)[k] for k in ("earlier", "later", "added", "removed")},
        "verdicts_changed": sum(verdicts.values()),
        "verdicts": dict(sorted(verdicts.items())),
        "alerts_appear": sum(appear.values()),
        "alerts_disappear": sum(disappear.values()),
        "alerts_added": dict(sorted(appear.items())),
        "alerts_removed": dict(sorted(disappear.items())),
    }
    assert {row["patient"] for row in run.changes} == changed
    # The change is not a trivial one: dates move both ways, verdicts change, alerts come and go.
    assert counts["next_injection"]["later"] >= 3 and counts["verdicts_changed"] >= 2
    assert counts["next_recheck"]["earlier"] >= 1 and counts["next_recheck"]["later"] >= 1
    assert counts["alerts_appear"] >= 1 and counts["alerts_disappear"] >= 1
    assert not ProtocolProfileDraft.objects.exists()


def test_the_preview_counts_the_same_whether_it_reuses_the_stored_statuses_or_not(small_clinic, clinic_admin) -> None:
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    new = draft_to_engine(change_draft(profile, clinic_admin, **A_CHANGE))
    reused = profile_preview(profile=profile, new=new, as_of=TODAY)
    evaluated = profile_preview(profile=profile, new=new, as_of=TODAY, use_stored=False)
    assert reused.tally == evaluated.tally and reused.changes == evaluated.changes
    assert (reused.evaluated_in_force, evaluated.evaluated_in_force) == (0, 9)
    # A status of an earlier day cannot stand for today's evaluation: that patient is evaluated.
    CareStatus.objects.filter(patient=small_clinic["monthly"]).update(as_of=TODAY - datetime.timedelta(days=1))
    again = profile_preview(profile=profile, new=new, as_of=TODAY)
    assert again.evaluated_in_force == 1 and again.tally == reused.tally


def test_the_preview_changes_nothing_until_published(
    small_clinic, clinic_admin, eager, django_capture_on_commit_callbacks
) -> None:
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    reminders_scan(now=NOW, enqueue=False)
    assert Reminder.objects.exists()

    def everything() -> tuple[object, ...]:
        return (
            sorted(CareStatus.objects.values_list()),
            sorted(CareAlert.objects.values_list()),
            sorted(Reminder.objects.values_list()),
            list(ProtocolProfile.objects.order_by("pk").values_list()),
            ProtocolProfile.history.count(),
        )

    untouched = everything()
    draft = change_draft(profile, clinic_admin, **A_CHANGE)
    with django_capture_on_commit_callbacks(execute=True):
        run = actions.protocol_profile_preview(draft=draft, by=clinic_admin, today=TODAY)
    run.refresh_from_db()
    assert run.status == "done" and run.counts["changed"] > 0
    assert everything() == untouched
    actions.protocol_profile_draft_discard(draft=draft, by=clinic_admin)
    assert everything() == untouched and not ProtocolProfileDraft.objects.exists()


def test_a_draft_is_not_used_by_evaluations_until_published(
    small_clinic, clinic_admin, nurse, eager, django_capture_on_commit_callbacks
) -> None:
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    monthly = small_clinic["monthly"]
    assert CareStatus.objects.get(patient=monthly).next_injection_due == D("2026-03-24")
    draft = change_draft(profile, clinic_admin, maintenance_interval_months=3)
    care_status_refresh(patient=monthly, today=TODAY)
    care_status_refresh_all(today=TODAY)
    give(small_clinic["loading"], nurse, "2026-03-01")  # an action's own refresh
    status = CareStatus.objects.get(patient=monthly)
    assert (status.next_injection_due, status.profile_version) == (D("2026-03-24"), 1)
    profile.refresh_from_db()
    assert (profile.version, profile.maintenance_interval_months) == (1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        actions.protocol_profile_draft_publish(draft=draft, by=clinic_admin, today=TODAY)
    status = CareStatus.objects.get(patient=monthly)
    assert (status.next_injection_due, status.profile_version) == (D("2026-05-24"), 2)
    profile.refresh_from_db()
    assert (profile.version, profile.maintenance_interval_months) == (2, 3)
    assert profile.history.filter(version=1, maintenance_interval_months=1).exists()


def test_a_draft_of_an_older_version_is_refused_on_publishing(small_clinic, clinic_admin) -> None:
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    draft = change_draft(profile, clinic_admin, maintenance_interval_months=2)
    profile.ileal_over_cm = 30
    actions.protocol_profile_publish(profile=profile, today=TODAY)  # the admin's "add" path, in force at once
    with pytest.raises(ValidationError, match="discard the draft"):
        actions.protocol_profile_draft_publish(draft=draft, by=clinic_admin, today=TODAY)
    profile.refresh_from_db()
    assert (profile.version, profile.maintenance_interval_months) == (2, 1)


def test_a_refused_edit_leaves_no_draft_behind(clinic_admin) -> None:
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    with pytest.raises(ValidationError) as refused:
        actions.protocol_profile_draft_edit(
            profile=profile, settings={"b12_low_below": Decimal(400), "b12_normal_above": Decimal(350)}, by=clinic_admin
        )
    assert refused.value.messages and not ProtocolProfileDraft.objects.exists()
    draft = actions.protocol_profile_draft_edit(profile=profile, settings={"ileal_over_cm": 25}, by=clinic_admin)
    assert (draft.ileal_over_cm, draft.based_on_version, ProtocolProfileDraft.objects.count()) == (25, 1, 1)


def test_a_bad_setting_in_a_draft_is_refused_naming_it(clinic_admin) -> None:
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    draft = actions.protocol_profile_draft_start(profile=profile, by=clinic_admin)
    draft.maintenance_interval_months = 0
    with pytest.raises(ValidationError) as refused:
        actions.protocol_profile_draft_save(draft=draft, by=clinic_admin)
    assert "maintenance_interval_months" in refused.value.message_dict
    assert ProtocolProfileDraft.objects.get().maintenance_interval_months == 1


@pytest.mark.parametrize("role", ["nurse", "physician", "stranger"])
def test_only_a_clinic_admin_drafts_previews_or_publishes(role, request, clinic_admin) -> None:
    user = request.getfixturevalue(role)
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    with pytest.raises(PermissionDenied):
        actions.protocol_profile_draft_start(profile=profile, by=user)
    draft = actions.protocol_profile_draft_start(profile=profile, by=clinic_admin)
    for action in (
        actions.protocol_profile_draft_save,
        actions.protocol_profile_preview,
        actions.protocol_profile_draft_publish,
        actions.protocol_profile_draft_discard,
    ):
        with pytest.raises(PermissionDenied):
            action(draft=draft, by=user)
    assert not ProfileRun.objects.exists() and ProtocolProfileDraft.objects.exists()


def test_the_command_prints_the_same_counts(
    small_clinic, clinic_admin, eager, django_capture_on_commit_callbacks
) -> None:
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    draft = change_draft(profile, clinic_admin, **A_CHANGE)
    with django_capture_on_commit_callbacks(execute=True):
        run = actions.protocol_profile_preview(draft=draft, by=clinic_admin, today=TODAY)
    run.refresh_from_db()
    out, err = io.StringIO(), io.StringIO()
    call_command("preview_profile", profile.slug, "--today", TODAY.isoformat(), stdout=out, stderr=err)
    text = out.getvalue()
    c = run.counts
    assert f"patients: {c['patients']}, changed: {c['changed']}" in text
    assert (
        "next injection: {earlier} earlier, {later} later, {added} added, {removed} removed".format(
            **c["next_injection"]
        )
        in text
    )
    assert (
        "next recheck: {earlier} earlier, {later} later, {added} added, {removed} removed".format(**c["next_recheck"])
        in text
    )
    assert f"verdicts changed: {c['verdicts_changed']}" in text
    assert f"alerts: {c['alerts_appear']} appear, {c['alerts_disappear']} disappear" in text
    assert "9/9" in err.getvalue()  # the progress
    assert not ProfileRun.objects.exclude(pk=run.pk).exists()  # the command keeps no run and writes nothing


def test_the_command_without_a_draft_says_so(db) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no draft"):
        call_command("preview_profile", "monthly-cyanocobalamin")
    assert Clinic.objects.exists()


def test_the_bulk_loader_reads_the_same_facts_as_the_daily_refresh(
    postgres_database, small_clinic, make_patient, nurse, physician
) -> None:
    """PostgreSQL's aggregated reading (care.facts.facts_by_patient_bulk) against the row by row one,
    on every kind of fact: voided entries, units, an injection late in the evening (the clinic's day),
    notes with the characters JSON escapes, overrides, oral therapy."""
    from care.facts import facts_by_patient, facts_by_patient_bulk
    from patients.models import Injection, LabResult

    p = make_patient(mrn="P-ALL", dietary_intake_adequate="no", neurological_involvement=True)
    actions.cause_add(patient=p, kind="bariatric_surgery", procedure="sleeve", by=physician, today=TODAY)
    actions.cause_add(
        patient=p, kind="ppi", start=D("2024-01-01"), note='a "quoted", ; note\nover lines', by=physician, today=TODAY
    )
    give(p, nurse, *LOADING, "2026-01-24")
    late = at("2026-02-24", 23)  # after 23:00 in winter London is still the 24th; UTC too, but checked
    actions.injection_record(
        patient=p,
        given_at=late,
        drug="cyanocobalamin",
        dose_mcg=1000,
        route="im",
        site="left_deltoid",
        lot_number="L1",
        lot_expiry=datetime.date(2027, 1, 31),
        given_by=nurse,
        now=late,
    )
    actions.injection_void(injection=Injection.objects.filter(patient=p).earliest("given_at"), by=nurse, reason="twice")
    lab(p, nurse, "2026-02-20", 150, unit="pmol/L")
    lab(p, nurse, "2025-11-20", "179.9999", unit="ng/L")
    lab(p, nurse, "2026-02-21", 12, analyte="ferritin", unit="ug/L")
    actions.lab_result_void(lab=LabResult.objects.filter(patient=p, analyte="ferritin").get(), by=nurse, reason="x")
    actions.symptom_check_record(
        patient=p, checked_on=D("2026-02-01"), neurological=True, depression=False, recorded_by=nurse, today=TODAY
    )
    actions.medication_start(patient=p, name="folic_acid", start=D("2025-06-01"), recorded_by=nurse, today=TODAY)
    actions.regimen_import_interval(regimen=p.regimen, days=21, reason="ward", by=physician)
    actions.regimen_import_recheck_date(regimen=p.regimen, on=D("2026-04-01"), reason="ward", by=physician, today=TODAY)
    oral = small_clinic["normal"]
    actions.regimen_import_oral(regimen=oral.regimen, since=D("2026-02-25"), dose_mcg=1000, by=physician, today=TODAY)

    ids = sorted(Patient.objects.values_list("pk", flat=True))
    row_by_row = facts_by_patient(ids, as_of=TODAY)
    bulk = facts_by_patient_bulk(ids[1:], as_of=TODAY)  # a run of ids that leaves the first one out

    def ordered(facts):
        return (
            facts.patient.birth_date,
            sorted(facts.patient.causes, key=repr),
            (facts.patient.neurological_involvement, facts.patient.pregnancy),
            facts.patient.dietary_intake_adequate,
            facts.regimen,
            sorted(facts.injections, key=repr),
            sorted(facts.labs, key=repr),
            sorted(facts.symptoms, key=repr),
            sorted(facts.medications, key=repr),
        )

    assert set(bulk) == set(ids[1:])
    for pid in ids[1:]:
        assert ordered(bulk[pid]) == ordered(row_by_row[pid]), pid
    everything = bulk[p.pk]
    assert len(everything.injections) == 5 and len(everything.labs) == 2 and everything.medications
    assert any("\n" in cause.note for cause in everything.patient.causes)
    assert {lab.unit_entered for lab in everything.labs} == {"pmol/L", "ng/L"}


@pytest.mark.django_db(transaction=True)
def test_the_reader_thread_reads_what_the_preview_would_read_itself(
    postgres_database, small_clinic, clinic_admin, monkeypatch
) -> None:
    """Outside a transaction (a Celery task) the chunks' queries run on a reader thread with its own
    connection, one chunk ahead; inside one (where that connection would not see the data) here, in
    order. Both give the same preview, chunk after chunk."""
    import threading

    from django.db import transaction

    from care import preview as previews

    threads: list[str] = []
    read = previews._read_chunk

    def spy(chunk, **kwargs):  # noqa: ANN001, ANN003, ANN202
        threads.append(threading.current_thread().name)
        return read(chunk, **kwargs)

    monkeypatch.setattr(previews, "_read_chunk", spy)
    profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
    new = draft_to_engine(change_draft(profile, clinic_admin, **A_CHANGE))
    ahead = profile_preview(profile=profile, new=new, as_of=TODAY, chunk_size=2)
    on_reader, threads[:] = list(threads), []
    with transaction.atomic():
        here = profile_preview(profile=profile, new=new, as_of=TODAY, chunk_size=2)
    assert len(on_reader) == len(threads) >= 4  # several chunks
    assert all(name.startswith("preview-reader") for name in on_reader)
    assert threads == [threading.current_thread().name] * len(threads)
    assert ahead.tally == here.tally and ahead.changes == here.changes and ahead.tally.changed > 0
