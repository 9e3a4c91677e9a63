"""Protocol profiles: every *(setting)* of GUIDANCE.md as data.

A clinic edits profiles in the database (protocols.models.ProtocolProfile); the engine only ever sees
this frozen dataclass. BUILTIN_PROFILES are the two profiles GUIDANCE.md describes, used to seed the
database and by `evaluate_case` when no database is available.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal

FIRST_YEAR = "first_year"
UNTIL_STABLE = "until_stable"
PATHWAYS = (FIRST_YEAR, UNTIL_STABLE)

CYANOCOBALAMIN = "cyanocobalamin"
HYDROXOCOBALAMIN = "hydroxocobalamin"
DRUGS = (CYANOCOBALAMIN, HYDROXOCOBALAMIN)


@dataclass(frozen=True)
class Profile:
    slug: str
    name: str
    drug: str
    maintenance_interval_months: int
    monitoring_pathway: str
    version: int = 1
    dose_mcg: int = 1000
    loading_doses: int = 4
    loading_interval_days: int = 7
    # SCHED-NEURO-INTERVAL: interval with neurological involvement (None: the rule does not apply).
    neuro_interval_months: int | None = None
    # SCHED-ILEAL
    ileal_interval_months: int = 1
    ileal_over_cm: int = 20
    # MON-*
    first_year_check_months: tuple[int, ...] = (3, 6, 12)
    until_stable_first_check_months: int = 3
    recheck_window_days: int = 14
    stable_recheck_months: int = 12
    unstable_recheck_months: int = 3
    high_risk_max_gap_months: int = 6
    bariatric_max_gap_months: int = 6
    pregnancy_bariatric_gap_months: int = 3
    oral_recheck_months: int = 12
    homocysteine_every_recheck: bool = False
    # STOP-*
    crohn_over_cm: int = 30
    age_rule_enabled: bool = True
    age_over_years: int = 75
    drug_cause_months: int = 4
    # Thresholds in canonical units.
    b12_low_below: Decimal = Decimal(180)
    b12_normal_above: Decimal = Decimal(350)
    mma_high_at: Decimal = Decimal(271)
    homocysteine_high_at: Decimal = Decimal(10)
    ferritin_low_below: Decimal = Decimal(30)
    tsat_low_below: Decimal = Decimal(20)
    folate_low_below: Decimal = Decimal(3)
    vitamin_d_low_below: Decimal = Decimal(75)
    oral_dose_text: str = field(default="oral cyanocobalamin 1000-2000 mcg daily")


SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Profile) if f.name not in ("slug", "name", "version"))

MONTHLY_CYANOCOBALAMIN = Profile(
    slug="monthly-cyanocobalamin",
    name="Monthly cyanocobalamin (default)",
    drug=CYANOCOBALAMIN,
    maintenance_interval_months=1,
    monitoring_pathway=FIRST_YEAR,
)

HYDROXOCOBALAMIN_3_MONTHLY = Profile(
    slug="hydroxocobalamin-3-monthly",
    name="Hydroxocobalamin every 3 months",
    drug=HYDROXOCOBALAMIN,
    maintenance_interval_months=3,
    neuro_interval_months=2,
    monitoring_pathway=UNTIL_STABLE,
    homocysteine_every_recheck=True,
)

DEFAULT_PROFILE_SLUG = MONTHLY_CYANOCOBALAMIN.slug
BUILTIN_PROFILES: dict[str, Profile] = {p.slug: p for p in (MONTHLY_CYANOCOBALAMIN, HYDROXOCOBALAMIN_3_MONTHLY)}
