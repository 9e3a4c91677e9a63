"""The services validate before they write: every refusal names the argument at fault and leaves no
row and no history row behind."""

from __future__ import annotations

import datetime
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from clinic import actions
from patients import services as record
from patients.models import Cause, Injection, LabResult, Medication, Patient, SymptomCheck
from protocols.models import ProtocolProfile

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat
CLINICAL = (Patient, Cause, Injection, LabResult, SymptomCheck, Medication)


def _counts() -> dict[str, int]:
    counts = {m.__name__: m.objects.count() for m in CLINICAL}
    counts.update({f"history {m.__name__}": m.history.count() for m in CLINICAL})
    return counts


@contextmanager
def refused(field: str, message_part: str = ""):
    """The block raises ValidationError naming `field` and changes nothing in the database."""
    before = _counts()
    with pytest.raises(ValidationError) as error:
        yield
    assert field in error.value.message_dict, error.value.message_dict
    assert message_part in " ".join(error.value.message_dict[field])
    assert _counts() == before


# Patients ------------------------------------------------------------------------------------------


def test_it_creates_a_patient_with_a_default_regimen(make_patient) -> None:
    patient = make_patient(mrn=" MRN-9 ")
    assert patient.mrn == "MRN-9"
    assert patient.regimen.profile.slug == "monthly-cyanocobalamin"
    assert patient.full_name == "Alice Example"
    assert patient.history.count() == 1


@pytest.mark.parametrize(
    ("day", "age"),
    [(D("2026-05-09"), 55), (D("2026-05-10"), 56), (D("2046-05-09"), 75), (D("2046-05-10"), 76)],
)
def test_it_counts_completed_years(patient: Patient, day: datetime.date, age: int) -> None:
    assert patient.age_on(day) == age


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"birth_date": D("2026-03-02")}, "birth_date", "future"),
        ({"sex": "robot"}, "sex", ""),
        ({"sex": "male", "pregnancy": "pregnant"}, "pregnancy", "male"),
        ({"pregnancy": "soon"}, "pregnancy", ""),
        ({"mrn": ""}, "mrn", ""),
        ({"email": "not-an-address"}, "email", ""),
        ({"email_reminders_consent": True}, "email", "address"),
    ],
)
def test_it_refuses_a_bad_patient(make_patient, overrides: dict[str, Any], field: str, message: str) -> None:
    with refused(field, message):
        make_patient(**overrides)


def test_it_refuses_a_duplicate_mrn(make_patient) -> None:
    make_patient(mrn="DUP-1")
    with refused("mrn", "already exists"):
        make_patient(mrn="DUP-1")


def test_it_updates_and_discharges_a_patient(patient: Patient, nurse, now, today) -> None:
    actions.patient_update(patient=patient, data={"pregnancy": "planning", "phone": "0123"}, by=nurse, today=today)
    with refused("birth_date"):
        actions.patient_update(patient=patient, data={"birth_date": D("2027-01-01")}, by=nurse, today=today)
    actions.patient_discharge(patient=patient, by=nurse, now=now)
    patient.refresh_from_db()
    assert (patient.pregnancy, patient.is_active, patient.discharged_at) == ("planning", False, now)
    with refused("patient", "already discharged"):
        actions.patient_discharge(patient=patient, by=nurse, now=now)


def test_it_records_the_email_opt_out_time(make_patient, nurse, now) -> None:
    patient = make_patient(email="a@example.org", email_reminders_consent=True)
    actions.patient_set_email_consent(patient=patient, consent=False, by=nurse, now=now)
    assert (patient.email_reminders_consent, patient.email_opt_out_at) == (False, now)


def test_it_refuses_fields_a_service_does_not_change(patient: Patient) -> None:
    with pytest.raises(ValueError, match="is_active"):
        actions.patient_update(patient=patient, data={"is_active": False})


# Causes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "ileal_resection"}, "length_cm"),
        ({"kind": "crohns_ileal", "length_cm": 0}, "length_cm"),
        ({"kind": "dietary", "length_cm": 30}, "length_cm"),
        ({"kind": "bariatric_surgery"}, "procedure"),
        ({"kind": "bariatric_surgery", "procedure": "liposuction"}, "procedure"),
        ({"kind": "pernicious_anemia", "procedure": "sleeve"}, "procedure"),
        ({"kind": "ppi"}, "start"),
        ({"kind": "metformin", "start": D("2026-03-02")}, "start"),
        ({"kind": "ppi", "start": D("2025-01-02"), "stop": D("2025-01-01")}, "stop"),
        ({"kind": "other", "note": "   "}, "note"),
        ({"kind": "unknown_kind"}, "kind"),
    ],
)
def test_it_refuses_a_cause_missing_its_details(patient: Patient, physician, today, kwargs, field: str) -> None:
    with refused(field):
        actions.cause_add(patient=patient, by=physician, today=today, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "pernicious_anemia"},
        {"kind": "ileal_resection", "length_cm": 21},
        {"kind": "crohns_ileal", "length_cm": 31},
        {"kind": "bariatric_surgery", "procedure": "gastric_bypass"},
        {"kind": "dietary"},
        {"kind": "ppi", "start": D("2025-01-01")},
        {"kind": "metformin", "start": D("2025-01-01"), "stop": D("2026-03-01")},
        {"kind": "other", "note": "Nitrous oxide"},
    ],
)
def test_it_records_each_kind_of_cause(patient: Patient, physician, today, kwargs) -> None:
    cause = actions.cause_add(patient=patient, by=physician, today=today, **kwargs)
    assert cause.history.get().history_user == physician


def test_it_updates_and_removes_a_cause(patient: Patient, physician, today) -> None:
    cause = actions.cause_add(patient=patient, kind="ppi", start=D("2025-01-01"), by=physician, today=today)
    actions.cause_update(cause=cause, data={"stop": D("2026-02-01")}, by=physician, today=today)
    with refused("stop"):
        actions.cause_update(cause=cause, data={"stop": D("2024-12-31")}, by=physician, today=today)
    actions.cause_remove(cause=cause, by=physician, reason="Entered on the wrong patient")
    assert not patient.causes.exists()
    deleted = Cause.history.filter(history_type="-").get()
    assert (deleted.history_user, deleted.history_change_reason) == (physician, "Entered on the wrong patient")


# Regimen -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("months", "reason", "field"),
    [(0, "Stable", "months"), (13, "Stable", "months"), (None, "Stable", "months"), (2, "  ", "reason")],
)
def test_it_refuses_an_incomplete_interval_override(patient: Patient, physician, months, reason, field) -> None:
    with refused(field):
        record.regimen_set_interval_override(regimen=patient.regimen, months=months, reason=reason, by=physician)
    patient.regimen.refresh_from_db()
    assert patient.regimen.maintenance_interval_months is None


def test_it_sets_and_clears_an_interval_override(patient: Patient, physician, now) -> None:
    regimen = record.regimen_set_interval_override(
        regimen=patient.regimen, months=2, reason="Stable; travels for work", by=physician, now=now
    )
    regimen.refresh_from_db()
    assert (regimen.maintenance_interval_months, regimen.interval_set_by, regimen.interval_set_at) == (
        2,
        physician,
        now,
    )
    assert regimen.history.latest().history_change_reason == "Stable; travels for work"
    record.regimen_clear_interval_override(regimen=regimen, by=physician)
    regimen.refresh_from_db()
    assert (regimen.maintenance_interval_months, regimen.interval_reason, regimen.interval_set_by) == (None, "", None)


def test_it_switches_to_oral_once(patient: Patient, physician, today) -> None:
    with refused("since", "future"):
        record.regimen_switch_to_oral(regimen=patient.regimen, since=D("2026-03-02"), by=physician, today=today)
    record.regimen_switch_to_oral(regimen=patient.regimen, since=today, by=physician, today=today)
    with refused("since", "Already"):
        record.regimen_switch_to_oral(regimen=patient.regimen, since=today, by=physician, today=today)
    record.regimen_resume_injections(regimen=patient.regimen, by=physician)
    assert patient.regimen.oral_since is None


def test_it_refuses_a_profile_no_longer_in_use(patient: Patient, physician) -> None:
    profile = ProtocolProfile.objects.get(slug="hydroxocobalamin-3-monthly")
    profile.is_active = False
    profile.save()
    with pytest.raises(ValidationError, match="not in use"):
        actions.regimen_set_profile(regimen=patient.regimen, profile=profile, by=physician)


# Injections ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"given_at": datetime.datetime(2026, 3, 1, 12, 1, tzinfo=datetime.UTC)}, "given_at", "future"),
        ({"lot_expiry": D("2026-02-28")}, "lot_expiry", "expired"),
        ({"dose_mcg": 0}, "dose_mcg", ""),
        ({"drug": "methylcobalamin"}, "drug", ""),
        ({"route": "oral"}, "route", ""),
        ({"site": "forehead"}, "site", ""),
        ({"lot_number": "  "}, "lot_number", ""),
    ],
)
def test_it_refuses_a_bad_injection(injection_kwargs, overrides, field: str, message: str) -> None:
    with refused(field, message):
        actions.injection_record(**{**injection_kwargs, **overrides})


def test_it_accepts_a_lot_expiring_on_the_day_given(injection_kwargs, today) -> None:
    injection = actions.injection_record(**{**injection_kwargs, "lot_expiry": today})
    assert Injection.objects.get() == injection and injection.lot_expiry == today


def test_it_refuses_an_injection_for_a_discharged_patient(injection_kwargs, nurse, now) -> None:
    actions.patient_discharge(patient=injection_kwargs["patient"], by=nurse, now=now)
    with refused("patient", "discharged"):
        actions.injection_record(**injection_kwargs)


def test_it_corrects_an_injection_with_a_reason(injection_kwargs, physician, now) -> None:
    injection = actions.injection_record(**injection_kwargs)
    with refused("reason"):
        actions.injection_correct(injection=injection, data={"site": "right_thigh"}, by=physician, reason=" ", now=now)
    actions.injection_correct(
        injection=injection, data={"site": "right_thigh"}, by=physician, reason="Wrong site recorded", now=now
    )
    injection.refresh_from_db()
    assert injection.site == "right_thigh"


# Labs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"unit": "mg"}, "unit", "'mg' is not a unit for b12; use pg/mL, ng/L, pmol/L"),
        ({"unit": "nmol/L"}, "unit", "not a unit for b12"),
        ({"value": "-1"}, "value", "negative"),
        ({"value": "abc"}, "value", "not a number"),
        ({"value": None}, "value", "not a number"),
        ({"value": "NaN"}, "value", "digits 0-9"),
        ({"value": float("nan")}, "value", "finite"),
        ({"value": "1e309"}, "value", "digits 0-9"),
        ({"value": "\u0663\u0660\u0660"}, "value", "digits 0-9"),
        ({"value": "1.23456"}, "value", "decimal places"),
        ({"value": "123456789"}, "value", "digits"),
        ({"collected_on": D("2026-03-02")}, "collected_on", "future"),
        ({"analyte": "cholesterol"}, "analyte", "not a known analyte"),
    ],
)
def test_it_refuses_a_bad_lab_result(patient: Patient, nurse, today, kwargs, field: str, message: str) -> None:
    values = {"analyte": "b12", "value": "453", "unit": "pmol/L", "collected_on": today, **kwargs}
    with refused(field, message):
        actions.lab_result_record(patient=patient, entered_by=nurse, today=today, **values)


def test_it_names_every_bad_part_of_a_lab_result_at_once(patient: Patient, nurse, today) -> None:
    with pytest.raises(ValidationError) as error:
        actions.lab_result_record(
            patient=patient, analyte="b12", value="-3", unit="mg", collected_on=today, entered_by=nurse, today=today
        )
    assert set(error.value.message_dict) == {"value", "unit"}


def test_it_corrects_a_lab_result_keeping_who_entered_it(patient: Patient, nurse, physician, today) -> None:
    lab = actions.lab_result_record(
        patient=patient, analyte="b12", value="453", unit="pg/mL", collected_on=today, entered_by=nurse, today=today
    )
    with refused("unit"):
        actions.lab_result_correct(lab=lab, value="453", unit="mg", by=physician, reason="Typo", today=today)
    lab.refresh_from_db()
    assert (lab.unit_entered, lab.value_canonical) == ("pg/mL", Decimal("453.0000"))
    actions.lab_result_correct(
        lab=lab, value="453", unit="pmol/L", by=physician, reason="Lab reports pmol/L", today=today
    )
    lab.refresh_from_db()
    assert (lab.value_canonical, lab.entered_by) == (Decimal("613.9875"), nurse)
    latest = lab.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (physician, "Lab reports pmol/L")


# Symptoms and medications --------------------------------------------------------------------------


def test_it_refuses_a_symptom_check_in_the_future(patient: Patient, nurse, today) -> None:
    with refused("checked_on", "future"):
        actions.symptom_check_record(
            patient=patient,
            checked_on=D("2026-03-02"),
            neurological=True,
            depression=False,
            recorded_by=nurse,
            today=today,
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "other"}, "detail"),
        ({"name": "aspirin"}, "name"),
        ({"name": "folic_acid", "start": D("2026-03-02")}, "start"),
    ],
)
def test_it_refuses_a_bad_medication(patient: Patient, nurse, today, kwargs, field: str) -> None:
    with refused(field):
        actions.medication_start(**{"patient": patient, "start": today, "recorded_by": nurse, "today": today, **kwargs})


def test_it_stops_a_medication_once_and_not_before_it_started(patient: Patient, nurse, today) -> None:
    medication = actions.medication_start(
        patient=patient, name="folic_acid", start=today, recorded_by=nurse, today=today
    )
    with refused("stop"):
        actions.medication_stop(medication=medication, stop=D("2026-02-28"), by=nurse)
    medication.refresh_from_db()
    assert medication.stop is None
    actions.medication_stop(medication=medication, stop=D("2026-06-01"), by=nurse)  # a planned stop
    with refused("stop", "Already stopped"):
        actions.medication_stop(medication=medication, stop=D("2026-07-01"), by=nurse)


# The application layer: record, then care status, then reminders, in one transaction --------------


def test_it_refreshes_the_care_status_then_the_reminders_inside_each_actions_transaction(
    injection_kwargs, nurse, physician, today
) -> None:
    from django.db import connection

    patient = injection_kwargs["patient"]
    seen: list[tuple[str, int, bool]] = []

    def step(name: str):
        return lambda *, patient: seen.append((name, patient.pk, connection.in_atomic_block))

    with (
        mock.patch.object(actions, "care_status_refresh", side_effect=step("care status")),
        mock.patch.object(actions, "reminders_cancel_obsolete", side_effect=step("reminders")),
    ):
        injection = actions.injection_record(**injection_kwargs)
        actions.lab_result_record(
            patient=patient,
            analyte="folate",
            value="2",
            unit="ng/mL",
            collected_on=today,
            entered_by=nurse,
            today=today,
        )
        actions.symptom_check_record(
            patient=patient, checked_on=today, neurological=False, depression=True, recorded_by=nurse, today=today
        )
        actions.medication_start(patient=patient, name="folic_acid", start=today, recorded_by=nurse, today=today)
        cause = actions.cause_add(patient=patient, kind="dietary", by=physician, today=today)
        actions.cause_remove(cause=cause, by=physician)
        actions.injection_void(injection=injection, by=physician, reason="entered on the wrong chart")
    assert seen == [("care status", patient.pk, True), ("reminders", patient.pk, True)] * 7


def test_it_leaves_the_care_status_and_reminders_to_the_actions(injection_kwargs) -> None:
    """The record's services write the record only; the care status is the application layer's."""
    with (
        mock.patch("care.services.care_status_refresh") as refresh,
        mock.patch("reminders.outbox.reminders_cancel_obsolete") as cancel,
    ):
        record.injection_record(**injection_kwargs)
    assert Injection.objects.count() == 1
    refresh.assert_not_called()
    cancel.assert_not_called()


def test_it_rolls_back_the_record_when_the_care_status_fails(injection_kwargs) -> None:
    with (
        mock.patch.object(actions, "care_status_refresh", side_effect=RuntimeError("care status")),
        pytest.raises(RuntimeError),
    ):
        actions.injection_record(**injection_kwargs)
    assert not Injection.objects.exists()
    assert not Injection.history.exists()
