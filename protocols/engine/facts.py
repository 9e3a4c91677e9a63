"""Facts the engine reads: frozen dataclasses, canonical units, plain dates. No Django here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

CAUSE_CODES = (
    "pernicious_anemia",
    "ileal_resection",
    "bariatric_surgery",
    "crohns_ileal",
    "dietary",
    "ppi",
    "metformin",
    "other",
)
BARIATRIC_PROCEDURES = ("gastric_bypass", "biliopancreatic_diversion", "sleeve", "other")
PREGNANCY_STATES = ("none", "planning", "pregnant")
FOLIC_ACID = "folic_acid"
# The analytes any rule reads; other results (hemoglobin, MCV, thiamine...) are kept but not needed here.
ANALYTES_READ = ("b12", "mma", "homocysteine", "ferritin", "transferrin_saturation", "folate", "vitamin_d")
# SCHED-OVERRIDE in days (CONTRACT.md: regimen.maintenance_interval_days, 3 to 90).
INTERVAL_DAYS_MIN, INTERVAL_DAYS_MAX = 3, 90


@dataclass(frozen=True, slots=True)
class CauseFact:
    code: str
    length_cm: Decimal | int | None = None  # may be fractional: 20.5 cm is more than 20
    procedure: str | None = None
    start: date | None = None
    stop: date | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class PatientFacts:
    birth_date: date | None = None
    causes: tuple[CauseFact, ...] = ()
    neurological_involvement: bool = False
    pregnancy: str = "none"
    dietary_intake_adequate: bool | None = None


@dataclass(frozen=True, slots=True)
class RegimenFacts:
    """A physician's settings for one patient. The interval override (SCHED-OVERRIDE) is given in
    months or in days, never both; `recheck_on` is the date of the next recheck (MON-OVERRIDE)."""

    profile: str = "monthly-cyanocobalamin"
    maintenance_interval_months: int | None = None
    oral_since: date | None = None
    maintenance_interval_days: int | None = None
    recheck_on: date | None = None

    def __post_init__(self) -> None:
        if self.maintenance_interval_months is not None and self.maintenance_interval_days is not None:
            raise ValueError("maintenance_interval_months and maintenance_interval_days cannot both be set")


@dataclass(frozen=True, slots=True)
class InjectionFact:
    date: date
    drug: str = ""
    dose_mcg: int = 0


@dataclass(frozen=True, slots=True)
class LabFact:
    """A lab result with its value in the analyte's canonical unit, exact (units.to_canonical_exact):
    never the 4-decimal stored value. `value_entered` and `unit_entered`, when given, are only shown in
    messages (a number as it was written)."""

    date: date
    analyte: str
    value: Decimal
    value_entered: Decimal | None = None
    unit_entered: str = ""


@dataclass(frozen=True, slots=True)
class SymptomFact:
    date: date
    neurological: bool = False
    depression: bool = False


@dataclass(frozen=True, slots=True)
class MedicationFact:
    name: str
    start: date
    stop: date | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the engine knows about one patient. Lists need not be sorted."""

    as_of: date
    patient: PatientFacts = field(default_factory=PatientFacts)
    regimen: RegimenFacts = field(default_factory=RegimenFacts)
    injections: tuple[InjectionFact, ...] = ()
    labs: tuple[LabFact, ...] = ()
    symptoms: tuple[SymptomFact, ...] = ()
    medications: tuple[MedicationFact, ...] = ()
