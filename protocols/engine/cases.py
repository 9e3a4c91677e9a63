"""The JSON case contract (CONTRACT.md): parse a case into Facts, or say which field is wrong.

`parse_case(obj, profiles)` returns (Facts, Profile) or raises CaseError whose message starts with the
path of the offending field, e.g. `labs[2].unit: 'mg' is not a unit for b12; use pg/mL, ng/L, pmol/L`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from . import units
from .evaluate import evaluate
from .facts import (
    BARIATRIC_PROCEDURES,
    CAUSE_CODES,
    INTERVAL_DAYS_MAX,
    INTERVAL_DAYS_MIN,
    PREGNANCY_STATES,
    CauseFact,
    Facts,
    InjectionFact,
    LabFact,
    MedicationFact,
    PatientFacts,
    RegimenFacts,
    SymptomFact,
)
from .profiles import DEFAULT_PROFILE_SLUG, DRUGS, Profile
from .units import written

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CaseError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CaseError(path or "case", f"expected an object, got {type(value).__name__}")
    return value


def _list(obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise CaseError(_path(path, key), f"expected a list, got {type(value).__name__}")
    return value


def _date(obj: Mapping[str, Any], key: str, path: str, *, required: bool, as_of: date | None = None) -> date | None:
    where = _path(path, key)
    value = obj.get(key)
    if value is None:
        if required:
            raise CaseError(where, "is required (a date, YYYY-MM-DD)")
        return None
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise CaseError(where, f"{written(value)} is not a date; use YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CaseError(where, f"{value!r} is not a valid date") from None
    if as_of is not None and day > as_of:
        raise CaseError(where, f"{value} is after as_of ({as_of.isoformat()})")
    return day


def _bool(obj: Mapping[str, Any], key: str, path: str, *, default: bool | None, nullable: bool = False) -> bool | None:
    value = obj.get(key, default)
    if value is None and (nullable or default is None):
        return None
    if not isinstance(value, bool):
        raise CaseError(_path(path, key), f"{written(value)} is not true or false")
    return value


def _choice(
    obj: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...], *, default: str | None
) -> str | None:
    value = obj.get(key, default)
    if value is None and default is None:
        return None
    if value not in choices:
        raise CaseError(_path(path, key), f"{written(value)} is not one of {', '.join(choices)}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool) and Decimal(value).is_finite()


def _whole(
    obj: Mapping[str, Any], key: str, path: str, *, required: bool, minimum: int = 1, maximum: int | None = None
) -> int | None:
    """A whole number, which may be written 20 or 20.0, within [minimum, maximum]."""
    value = obj.get(key)
    if value is None:
        if required:
            raise CaseError(_path(path, key), "is required")
        return None
    wanted = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
    if not _is_number(value) or value != int(value) or value < minimum or (maximum is not None and value > maximum):
        raise CaseError(_path(path, key), f"{written(value)} is not a whole number {wanted}")
    return int(value)


def _length(obj: Mapping[str, Any], key: str, path: str) -> Decimal:
    """A length in cm: required, not negative, possibly fractional (20.5 cm is more than 20)."""
    value = obj.get(key)
    if value is None:
        raise CaseError(_path(path, key), "is required (a number of cm)")
    if not _is_number(value):
        raise CaseError(_path(path, key), f"{written(value)} is not a number")
    if value < 0:
        raise CaseError(_path(path, key), f"{written(value)} is negative; a length cannot be below 0")
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _cause(raw: Any, path: str, as_of: date) -> CauseFact:
    obj = _object(raw, path)
    code = _choice(obj, "code", path, CAUSE_CODES, default=None)
    if code is None:
        raise CaseError(_path(path, "code"), f"is required; use one of {', '.join(CAUSE_CODES)}")
    length = procedure = start = stop = None
    if code in ("ileal_resection", "crohns_ileal"):
        length = _length(obj, "length_cm", path)
    if code == "bariatric_surgery":
        procedure = _choice(obj, "procedure", path, BARIATRIC_PROCEDURES, default=None)
    if code in ("ppi", "metformin"):
        start = _date(obj, "start", path, required=True, as_of=as_of)
        stop = _date(obj, "stop", path, required=False)
        if stop is not None and start is not None and stop < start:
            raise CaseError(_path(path, "stop"), "is before start")
    note = obj.get("note") or ""
    if not isinstance(note, str):
        raise CaseError(_path(path, "note"), "is not text")
    return CauseFact(code=code, length_cm=length, procedure=procedure, start=start, stop=stop, note=note)


def _lab(raw: Any, path: str, as_of: date) -> LabFact:
    obj = _object(raw, path)
    day = _date(obj, "date", path, required=True, as_of=as_of)
    code = obj.get("analyte")
    if not isinstance(code, str) or code not in units.ANALYTES:
        raise CaseError(
            _path(path, "analyte"), f"{written(code)} is not an analyte; use one of {', '.join(units.ANALYTES)}"
        )
    unit = obj.get("unit")
    if not isinstance(unit, str):
        raise CaseError(_path(path, "unit"), f"is required; use {', '.join(units.ANALYTES[code].unit_symbols)}")
    value = obj.get("value")
    if isinstance(value, str) or value is None:
        raise CaseError(_path(path, "value"), f"{written(value)} is not a number")
    try:
        # Exact: categories and targets compare the exact converted value; rounding is display only.
        canonical = units.to_canonical_exact(code, value, unit)
        entered = units.parse_value(value)
        unit = units.unit_for(code, unit).symbol
    except units.UnitError as error:
        raise CaseError(_path(path, error.field), error.message) from None
    assert day is not None
    return LabFact(date=day, analyte=code, value=canonical, value_entered=entered, unit_entered=unit)


def parse_case(raw: Any, profiles: Mapping[str, Profile], path: str = "") -> tuple[Facts, Profile]:
    case = _object(raw, path)
    as_of = _date(case, "as_of", path, required=True)
    assert as_of is not None

    patient_path = _path(path, "patient")
    patient_obj = _object(case.get("patient") or {}, patient_path)
    causes = tuple(
        _cause(item, _path(_path(patient_path, "causes"), i), as_of)
        for i, item in enumerate(_list(patient_obj, "causes", patient_path))
    )
    patient = PatientFacts(
        birth_date=_date(patient_obj, "birth_date", patient_path, required=False, as_of=as_of),
        causes=causes,
        neurological_involvement=bool(_bool(patient_obj, "neurological_involvement", patient_path, default=False)),
        pregnancy=_choice(patient_obj, "pregnancy", patient_path, PREGNANCY_STATES, default="none") or "none",
        dietary_intake_adequate=_bool(
            patient_obj, "dietary_intake_adequate", patient_path, default=None, nullable=True
        ),
    )

    regimen_path = _path(path, "regimen")
    regimen_obj = _object(case.get("regimen") or {}, regimen_path)
    slug = regimen_obj.get("profile") or DEFAULT_PROFILE_SLUG
    if slug not in profiles:
        raise CaseError(
            _path(regimen_path, "profile"), f"{written(slug)} is not a known profile; use {', '.join(profiles)}"
        )
    months = _whole(regimen_obj, "maintenance_interval_months", regimen_path, required=False)
    days = _whole(
        regimen_obj,
        "maintenance_interval_days",
        regimen_path,
        required=False,
        minimum=INTERVAL_DAYS_MIN,
        maximum=INTERVAL_DAYS_MAX,
    )
    if months is not None and days is not None:
        raise CaseError(
            _path(regimen_path, "maintenance_interval_days"),
            f"cannot be set together with {_path(regimen_path, 'maintenance_interval_months')}; "
            "give the interval in months or in days",
        )
    regimen = RegimenFacts(
        profile=slug,
        maintenance_interval_months=months,
        oral_since=_date(regimen_obj, "oral_since", regimen_path, required=False),
        maintenance_interval_days=days,
        recheck_on=_date(regimen_obj, "recheck_on", regimen_path, required=False),
    )

    injections = []
    for i, item in enumerate(_list(case, "injections", path)):
        where = _path(_path(path, "injections"), i)
        obj = _object(item, where)
        day = _date(obj, "date", where, required=True, as_of=as_of)
        assert day is not None
        drug = _choice(obj, "drug", where, DRUGS, default=profiles[slug].drug) or profiles[slug].drug
        dose = _whole(obj, "dose_mcg", where, required=False) or profiles[slug].dose_mcg
        injections.append(InjectionFact(date=day, drug=drug, dose_mcg=dose))

    labs = tuple(_lab(item, _path(_path(path, "labs"), i), as_of) for i, item in enumerate(_list(case, "labs", path)))

    symptoms = []
    for i, item in enumerate(_list(case, "symptoms", path)):
        where = _path(_path(path, "symptoms"), i)
        obj = _object(item, where)
        day = _date(obj, "date", where, required=True, as_of=as_of)
        assert day is not None
        symptoms.append(
            SymptomFact(
                date=day,
                neurological=bool(_bool(obj, "neurological", where, default=False)),
                depression=bool(_bool(obj, "depression", where, default=False)),
            )
        )

    medications = []
    for i, item in enumerate(_list(case, "medications", path)):
        where = _path(_path(path, "medications"), i)
        obj = _object(item, where)
        name = obj.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CaseError(_path(where, "name"), "is required (e.g. folic_acid)")
        start = _date(obj, "start", where, required=True, as_of=as_of)
        stop = _date(obj, "stop", where, required=False)
        assert start is not None
        if stop is not None and stop < start:
            raise CaseError(_path(where, "stop"), "is before start")
        medications.append(MedicationFact(name=name.strip(), start=start, stop=stop))

    facts = Facts(
        as_of=as_of,
        patient=patient,
        regimen=regimen,
        injections=tuple(injections),
        labs=labs,
        symptoms=tuple(symptoms),
        medications=tuple(medications),
    )
    return facts, profiles[slug]


def evaluate_cases(raw: Any, profiles: Mapping[str, Profile]) -> Any:
    """One case object -> one evaluation dict; a list -> a list in the same order.

    Every case is parsed before any is evaluated, so a bad case anywhere yields only the error."""
    if isinstance(raw, list):
        parsed = [parse_case(item, profiles, path=f"[{i}]") for i, item in enumerate(raw)]
        return [evaluate(facts, profile).to_dict() for facts, profile in parsed]
    facts, profile = parse_case(raw, profiles)
    return evaluate(facts, profile).to_dict()
