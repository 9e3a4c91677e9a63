"""Each CheckConstraint holds in the database itself: objects.create() skips clean(), so only the
database can refuse these rows."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CheckConstraint, F, Q

from patients import constraints
from patients.models import Cause, Injection, LabNotDrawn, LabResult, Medication, Patient, Regimen
from protocols.models import ProtocolProfile

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat
AT = datetime.datetime(2026, 2, 1, 10, 0, tzinfo=datetime.UTC)


def _valid(model: type, patient: Patient, user: Any) -> dict[str, Any]:
    """Values that satisfy every constraint of `model`."""
    return {
        Patient: {
            "clinic": patient.clinic,
            "mrn": "C-1",
            "given_name": "A",
            "family_name": "B",
            "birth_date": D("1980-01-01"),
            "sex": "female",
        },
        Cause: {"patient": patient, "kind": "pernicious_anemia"},
        Regimen: {"patient": patient, "profile": ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")},
        Injection: {
            "patient": patient,
            "given_at": AT,
            "drug": "cyanocobalamin",
            "dose_mcg": 1000,
            "route": "im",
            "site": "left_deltoid",
            "lot_number": "L1",
            "lot_expiry": D("2027-01-01"),
            "given_by": user,
        },
        LabResult: {
            "patient": patient,
            "analyte": "b12",
            "value_entered": Decimal("453"),
            "unit_entered": "pmol/L",
            "value_canonical": Decimal("613.9875"),
            "unit_canonical": "pg/mL",
            "collected_on": D("2026-02-01"),
            "entered_by": user,
        },
        Medication: {"patient": patient, "name": "folic_acid", "start": D("2026-01-01"), "recorded_by": user},
        LabNotDrawn: {
            "patient": patient,
            "analyte": "thiamine",
            "on": D("2026-02-01"),
            "reason": "Lab closed",
            "recorded_by": user,
        },
    }[model]


OVERRIDE = {"override": True}  # Regimen rows need a physician; filled in by the test

CASES: list[tuple[type, dict[str, Any], str]] = [
    (Patient, {"mrn": ""}, "patient_mrn_not_blank"),
    (Patient, {"sex": "robot"}, "patient_sex_valid"),
    (Patient, {"pregnancy": "maybe"}, "patient_pregnancy_valid"),
    (Patient, {"dietary_intake_adequate": "sometimes"}, "patient_dietary_intake_valid"),
    (Patient, {"sex": "male", "pregnancy": "pregnant"}, "patient_pregnancy_not_male"),
    (Patient, {"is_active": False, "discharge_reason": "moved_away"}, "patient_discharged_at_iff_inactive"),
    (Patient, {"discharged_at": AT}, "patient_discharged_at_iff_inactive"),
    (Patient, {"is_active": False, "discharged_at": AT}, "patient_discharge_reason_iff_inactive"),
    (
        Patient,
        {"is_active": False, "discharged_at": AT, "discharge_reason": "bored"},
        "patient_discharge_reason_iff_inactive",
    ),
    (Patient, {"discharge_reason": "moved_away"}, "patient_discharge_reason_iff_inactive"),
    (LabNotDrawn, {"reason": ""}, "labnotdrawn_reason_not_blank"),
    (LabNotDrawn, {"analyte": "gold"}, "labnotdrawn_analyte_valid"),
    (Cause, {"kind": "bad_luck"}, "cause_kind_valid"),
    (Cause, {"kind": "ileal_resection"}, "cause_length_cm_iff_ileal"),
    (Cause, {"kind": "crohns_ileal", "length_cm": 0}, "cause_length_cm_iff_ileal"),
    (Cause, {"kind": "pernicious_anemia", "length_cm": 25}, "cause_length_cm_iff_ileal"),
    (Cause, {"kind": "bariatric_surgery"}, "cause_procedure_iff_bariatric"),
    (Cause, {"kind": "bariatric_surgery", "procedure": "liposuction"}, "cause_procedure_iff_bariatric"),
    (Cause, {"kind": "dietary", "procedure": "sleeve"}, "cause_procedure_iff_bariatric"),
    (Cause, {"kind": "ppi"}, "cause_start_required_for_drugs"),
    (Cause, {"kind": "metformin"}, "cause_start_required_for_drugs"),
    (Cause, {"kind": "ppi", "start": D("2026-01-02"), "stop": D("2026-01-01")}, "cause_stop_not_before_start"),
    (Cause, {"stop": D("2026-01-01")}, "cause_stop_not_before_start"),
    (Cause, {"kind": "other"}, "cause_note_required_for_other"),
    (Regimen, {"maintenance_interval_months": 2}, "regimen_override_complete"),
    (Regimen, {**OVERRIDE, "interval_reason": ""}, "regimen_override_complete"),
    (Regimen, {**OVERRIDE, "interval_set_by": None}, "regimen_override_complete"),
    (Regimen, {**OVERRIDE, "interval_set_at": None}, "regimen_override_complete"),
    (Regimen, {**OVERRIDE, "maintenance_interval_months": 13}, "regimen_override_complete"),
    (Regimen, {**OVERRIDE, "maintenance_interval_months": 0}, "regimen_override_complete"),
    (Regimen, {"interval_reason": "left over"}, "regimen_override_complete"),
    (Regimen, {**OVERRIDE, "maintenance_interval_days": 14}, "regimen_override_complete"),  # months and days
    (
        Regimen,
        {**OVERRIDE, "maintenance_interval_months": None, "maintenance_interval_days": 2},
        "regimen_override_complete",
    ),
    (
        Regimen,
        {**OVERRIDE, "maintenance_interval_months": None, "maintenance_interval_days": 91},
        "regimen_override_complete",
    ),
    (Regimen, {"recheck_on": AT.date()}, "regimen_recheck_override_complete"),
    (Regimen, {"recheck_reason": "left over"}, "regimen_recheck_override_complete"),
    (Regimen, {"oral_dose_mcg": 1000}, "regimen_oral_dose_only_on_oral"),  # not on oral therapy
    (Regimen, {"oral_since": AT.date(), "oral_dose_mcg": 999}, "regimen_oral_dose_only_on_oral"),
    (Regimen, {"oral_since": AT.date(), "oral_dose_mcg": 2001}, "regimen_oral_dose_only_on_oral"),
    (Injection, {"dose_mcg": 0}, "injection_dose_positive"),
    (Injection, {"drug": "methylcobalamin"}, "injection_drug_valid"),
    (Injection, {"route": "oral"}, "injection_route_valid"),
    (Injection, {"site": "forehead"}, "injection_site_valid"),
    (Injection, {"lot_number": ""}, "injection_lot_number_not_blank"),
    (Injection, {"lot_expiry": None}, "injection_lot_expiry_given"),
    (Injection, {"site": ""}, "injection_site_valid"),  # blank only on imported history
    (Injection, {"void_reason": "typo"}, "injection_void_complete"),
    (Injection, {"voided_at": AT, "void_reason": "typo"}, "injection_void_complete"),
    (LabResult, {"unit_entered": "mg"}, "labresult_unit_valid"),
    (LabResult, {"analyte": "folate", "unit_canonical": "ng/mL"}, "labresult_unit_valid"),
    (LabResult, {"unit_canonical": "pmol/L"}, "labresult_canonical_unit_valid"),
    (LabResult, {"value_entered": Decimal("-1")}, "labresult_value_not_negative"),
    (LabResult, {"value_canonical": Decimal("-1")}, "labresult_canonical_not_negative"),
    (LabResult, {"voided_at": AT}, "labresult_void_complete"),
    (Medication, {"name": "aspirin"}, "medication_name_valid"),
    (Medication, {"name": "other"}, "medication_detail_for_other"),
    (Medication, {"stop": D("2025-12-31")}, "medication_stop_not_before_start"),
]


def _values(model: type, overrides: dict[str, Any], patient: Patient, physician: Any) -> dict[str, Any]:
    values = _valid(model, patient, physician)
    if model is Regimen:
        patient.regimen.delete()  # one regimen per patient: make room for the row under test
        if overrides.get("override"):
            values.update(
                maintenance_interval_months=2, interval_reason="Stable", interval_set_by=physician, interval_set_at=AT
            )
    values.update({k: v for k, v in overrides.items() if k != "override"})
    return values


@pytest.mark.parametrize(
    ("model", "override"),
    [(Patient, False), (Cause, False), (Regimen, False), (Regimen, True), (Injection, False), (LabResult, False)]
    + [(Medication, False), (LabNotDrawn, False)],
)
def test_it_accepts_valid_rows(model: type, override: bool, patient: Patient, physician: Any) -> None:
    row = model.objects.create(**_values(model, {"override": override}, patient, physician))
    assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize(("model", "overrides", "constraint"), CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_it_refuses_in_the_database(
    model: type, overrides: dict[str, Any], constraint: str, patient: Patient, physician: Any
) -> None:
    values = _values(model, overrides, patient, physician)
    before = model.objects.count()
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        model.objects.create(**values)
    assert constraint in str(error.value)
    assert model.objects.count() == before


def test_it_names_every_check_constraint_in_a_case() -> None:
    models = [Patient, Cause, Regimen, Injection, LabResult, Medication, LabNotDrawn]
    declared = {c.name for m in models for c in m._meta.constraints}
    assert declared == {constraint for _, _, constraint in CASES}


# The same constraints evaluated in Python (patients.constraints, for the register import's bulk
# checks): the same verdict as the database's own check, constraint by constraint.


def _check_constraints(model: type) -> list[CheckConstraint]:
    return [c for c in model._meta.constraints if isinstance(c, CheckConstraint)]


def _database_verdicts(model: type, instance: Any) -> dict[str, bool]:
    """Each constraint's verdict from the database (full_clean's one query a constraint)."""
    found = {}
    for constraint in _check_constraints(model):
        try:
            constraint.validate(model, instance)
        except ValidationError:
            found[constraint.name] = False
        else:
            found[constraint.name] = True
    return found


def _python_verdicts(model: type, instance: Any) -> dict[str, bool]:
    failed = set(constraints.violations(instance))
    return {c.name: str(c.get_violation_error_message()) not in failed for c in _check_constraints(model)}


@pytest.mark.parametrize(("model", "overrides", "constraint"), CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_it_finds_the_same_violation_in_python(
    model: type, overrides: dict[str, Any], constraint: str, patient: Patient, physician: Any
) -> None:
    instance = model(**_values(model, overrides, patient, physician))
    python = _python_verdicts(model, instance)
    assert python[constraint] is False
    assert python == _database_verdicts(model, instance)


@pytest.mark.parametrize(
    ("model", "override"),
    [(Patient, False), (Cause, False), (Regimen, False), (Regimen, True), (Injection, False), (LabResult, False)]
    + [(Medication, False), (LabNotDrawn, False)],
)
def test_it_finds_no_violation_in_python_where_the_database_finds_none(
    model: type, override: bool, patient: Patient, physician: Any
) -> None:
    instance = model(**_values(model, {"override": override}, patient, physician))
    assert constraints.violations(instance) == []
    assert all(_database_verdicts(model, instance).values())


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        (Q(a=1), {"a": 1}, True),
        (Q(a=1), {"a": 2}, False),
        (Q(a=1), {"a": None}, None),  # NULL = 1 is unknown
        (~Q(a=1), {"a": None}, None),  # and so is its negation
        (Q(a=None), {"a": None}, True),  # IS NULL
        (Q(a__isnull=False), {"a": 0}, True),
        (Q(a__in=[1, 2]), {"a": None}, None),
        (Q(a__in=[1, 2]), {"a": 3}, False),
        (Q(a__gte=F("b")), {"a": 1, "b": None}, None),
        (Q(a__gte=F("b")), {"a": 2, "b": 1}, True),
        (Q(a__lt=5) & Q(b=1), {"a": None, "b": 2}, False),  # unknown AND false is false
        (Q(a__lt=5) & Q(b=1), {"a": None, "b": 1}, None),
        (Q(a__lt=5) | Q(b=1), {"a": None, "b": 1}, True),  # unknown OR true is true
        (Q(a__lt=5) | Q(b=1), {"a": None, "b": 2}, None),
        (Q(a__lte=5, b__gt=1), {"a": 5, "b": 2}, True),
    ],
)
def test_it_evaluates_a_condition_with_sqls_three_values(condition: Q, values: dict[str, Any], expected: Any) -> None:
    assert constraints.holds(condition, values) is expected


def test_it_refuses_a_lookup_it_cannot_evaluate() -> None:
    with pytest.raises(constraints.Unsupported):
        constraints.holds(Q(name__icontains="x"), {"name": "x"})
