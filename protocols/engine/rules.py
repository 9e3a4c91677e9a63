"""The rules of GUIDANCE.md by id: a plain-language text and the sources each comes from.

The engine names these ids wherever a rule shaped a result; the patient chart shows the text so a
physician can see *why*. A rule's text is a template: every number a clinic can change in its profile
(cut-offs, lengths, ages, months, days) is filled in from that profile, so after a profile edit the
chart states the numbers the engine used. A test checks that this catalogue and GUIDANCE.md list the
same ids, and that no text hard-codes a number that is a setting.

    rule_text("SCHED-ILEAL", profile)   # the text for this profile
    RULES["SCHED-ILEAL"].text           # the text for the default profile (monthly-cyanocobalamin)
    RULES["SCHED-ILEAL"].source_titles  # ("The next step after four weekly B12 injections",)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from string import Formatter
from typing import Any

from .facts import INTERVAL_DAYS_MAX, INTERVAL_DAYS_MIN
from .profiles import BUILTIN_PROFILES, DEFAULT_PROFILE_SLUG, SETTING_NAMES, Profile

FIRST_SOURCE = "recheck-and-discontinuation.txt"
SECOND_SOURCE = "after-loading-next-step.txt"
CLINIC_POLICY = "GUIDANCE.md"

# Source key (the file name in ../shared/protocol/sources/, or GUIDANCE.md) -> the title a chart cites.
SOURCES: dict[str, str] = {
    FIRST_SOURCE: "Rechecking B12 and stopping injections after IM cyanocobalamin",
    SECOND_SOURCE: "The next step after four weekly B12 injections",
    CLINIC_POLICY: "Clinic policy (GUIDANCE.md)",
}

DEFAULT_PROFILE: Profile = BUILTIN_PROFILES[DEFAULT_PROFILE_SLUG]


def source_title(key: str) -> str:
    """The human title of a source key; an unknown key is returned as it is."""
    return SOURCES.get(key, key)


# --- Rendering ---------------------------------------------------------------------------------
# A template names profile settings in braces, with an optional form after a colon:
#   {ileal_over_cm}                    20
#   {drug_cause_months:months}         4 months        (1 month)
#   {stable_recheck_months:every}      every 12 months (every month)
#   {loading_interval_days:days}       7 days          (1 day)
#   {first_year_check_months:list}     3, 6 and 12
# Besides the settings, a few values are derived from them (DERIVED) or are fixed by the contract.


def _number(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _plural(value: object, unit: str) -> str:
    return f"{_number(value)} {unit}{'' if value == 1 else 's'}"


def _listed(values: tuple[object, ...]) -> str:
    words = [_number(value) for value in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


class _TextFormatter(Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "months":
            return _plural(value, "month")
        if format_spec == "days":
            return _plural(value, "day")
        if format_spec == "every":
            return "every month" if value == 1 else f"every {_number(value)} months"
        if format_spec == "list":
            return _listed(tuple(value))
        if format_spec:
            raise ValueError(f"unknown form {format_spec!r} in a rule text")
        return value if isinstance(value, str) else _number(value)


_FORMATTER = _TextFormatter()


def _neuro_interval(profile: Profile) -> str:
    own = _FORMATTER.format_field(profile.maintenance_interval_months, "every")
    if profile.neuro_interval_months is None:
        return f"stay {own} (this profile sets no other interval for it)"
    return f"{_FORMATTER.format_field(profile.neuro_interval_months, 'every')} instead of {own}"


# Values a text may name besides the settings: name -> (how to compute it, the settings it reads).
DERIVED: dict[str, tuple[Callable[[Profile], object], tuple[str, ...]]] = {
    "age_at_least": (lambda p: p.age_over_years + 1, ("age_over_years",)),
    "age_rule_state": (
        lambda p: "a clinic may turn this rule off" if p.age_rule_enabled else "this clinic has turned this rule off",
        ("age_rule_enabled",),
    ),
    "neuro_interval": (_neuro_interval, ("neuro_interval_months", "maintenance_interval_months")),
}
# Numbers a text may state that are not profile settings (CONTRACT.md).
FIXED: dict[str, object] = {"interval_days_min": INTERVAL_DAYS_MIN, "interval_days_max": INTERVAL_DAYS_MAX}


def _values(profile: Profile) -> dict[str, object]:
    values: dict[str, object] = {name: getattr(profile, name) for name in SETTING_NAMES}
    values.update({name: compute(profile) for name, (compute, _) in DERIVED.items()})
    values.update(FIXED)
    return values


@dataclass(frozen=True)
class Rule:
    id: str
    template: str  # the text, with {setting} fields filled in from a profile (see above)
    sources: tuple[str, ...]  # keys of SOURCES

    def render(self, profile: Profile) -> str:
        """The rule's text with this profile's settings."""
        return _FORMATTER.vformat(self.template, (), _values(profile))

    @property
    def text(self) -> str:
        """The text for the default profile (monthly-cyanocobalamin)."""
        return self.render(DEFAULT_PROFILE)

    @property
    def settings(self) -> tuple[str, ...]:
        """The profile settings this rule's text reads (none: the text is the same for every profile)."""
        names: list[str] = []
        for _, field, _, _ in _FORMATTER.parse(self.template):
            if field is None or field in FIXED:
                continue
            names.extend(DERIVED[field][1] if field in DERIVED else (field,))
        return tuple(dict.fromkeys(names))

    @property
    def source_titles(self) -> tuple[str, ...]:
        return tuple(source_title(key) for key in self.sources)

    @property
    def source(self) -> str:
        """The source keys joined by '; ' (the file names), for callers written before `sources`."""
        return "; ".join(self.sources)


BOTH = (FIRST_SOURCE, SECOND_SOURCE)
FIRST = (FIRST_SOURCE,)
SECOND = (SECOND_SOURCE,)
POLICY = (CLINIC_POLICY,)
B12_BORDERLINE = "{b12_low_below}-{b12_normal_above} pg/mL"

_RULES = (
    # Schedule
    Rule(
        "SCHED-LOAD",
        "Loading: the first {loading_doses} doses are given {loading_interval_days:days} apart; with no injection "
        "yet, the first dose is due now.",
        BOTH,
    ),
    Rule(
        "SCHED-MAINT",
        "Maintenance: once the {loading_doses} loading doses are given, the next injection is due one maintenance "
        "interval after the last: {maintenance_interval_months:every} on this profile (calendar months), unless a "
        "physician set another.",
        BOTH,
    ),
    Rule(
        "SCHED-OVERRIDE",
        "A physician set this patient's maintenance interval, in months or in days "
        "({interval_days_min} to {interval_days_max}); it wins over the profile, whose own suggestion is still shown.",
        POLICY,
    ),
    Rule(
        "SCHED-ILEAL",
        "Ileal resection over {ileal_over_cm} cm: maintenance injections {ileal_interval_months:every} for life, "
        "in every profile.",
        SECOND,
    ),
    Rule(
        "SCHED-NEURO-INTERVAL",
        "Neurological involvement: injections {neuro_interval}.",
        SECOND,
    ),
    Rule("SCHED-ORAL", "Switched to oral therapy: no injection is due.", FIRST),
    # Monitoring
    Rule(
        "MON-FIRST-YEAR",
        "First year of maintenance: B12 rechecks at {first_year_check_months:list} months after maintenance "
        "starts; a check counts as done from {recheck_window_days:days} before it is due.",
        FIRST,
    ),
    Rule(
        "MON-UNTIL-STABLE",
        "First B12 recheck {until_stable_first_check_months:months} after maintenance starts (done from "
        "{recheck_window_days:days} before it is due), then until stable.",
        SECOND,
    ),
    Rule(
        "MON-STABLE",
        "Stable when the two most recent B12 results are normal (above {b12_normal_above} pg/mL): a recheck "
        "{stable_recheck_months:every}; otherwise {unstable_recheck_months:every}.",
        BOTH,
    ),
    Rule(
        "MON-HIGH-RISK",
        "Neurological involvement, symptoms despite a normal B12, or planning pregnancy after bariatric surgery: "
        "no more than {high_risk_max_gap_months:months} between rechecks.",
        FIRST,
    ),
    Rule(
        "MON-BARIATRIC",
        "After bariatric surgery: no more than {bariatric_max_gap_months:months} between rechecks, each with "
        "vitamin D, thiamine, calcium, folate and vitamin A.",
        FIRST,
    ),
    Rule(
        "MON-PREGNANCY-BARIATRIC",
        "Pregnant after bariatric surgery: a recheck {pregnancy_bariatric_gap_months:every} (the source: each "
        "trimester) with the nutritional panel.",
        FIRST,
    ),
    Rule(
        "MON-ORAL",
        "On oral therapy: a B12 recheck {oral_recheck_months:every} to detect recurrence.",
        FIRST,
    ),
    Rule(
        "MON-OVERRIDE",
        "A physician set the date of the next recheck: it wins over the other monitoring rules, limits included, "
        "until a B12 is drawn from {recheck_window_days:days} before that date.",
        POLICY,
    ),
    Rule(
        "MON-FUNCTIONAL",
        f"Borderline B12 ({B12_BORDERLINE}), or symptoms despite a normal B12: add MMA and homocysteine at the "
        "recheck.",
        FIRST,
    ),
    # Discontinuation
    Rule("STOP-PERNICIOUS", "Pernicious anemia: lifelong injections, whatever the B12 level.", FIRST),
    Rule(
        "STOP-ILEAL",
        "Ileal resection over {ileal_over_cm} cm: permanent malabsorption, lifelong injections.",
        FIRST,
    ),
    Rule("STOP-BARIATRIC", "Bariatric surgery makes permanent anatomical changes: lifelong treatment.", FIRST),
    Rule(
        "STOP-CROHN",
        "Crohn's disease with over {crohn_over_cm} cm of ileal involvement: ongoing treatment.",
        FIRST,
    ),
    Rule(
        "STOP-AGE",
        "Older than {age_over_years} ({age_at_least} or more completed years) with a documented deficiency: "
        "indefinite treatment ({age_rule_state}).",
        FIRST,
    ),
    Rule(
        "STOP-DRUG",
        "A PPI or metformin taken for more than {drug_cause_months:months}: treatment continues while the drug does.",
        FIRST,
    ),
    Rule("STOP-CAUSE-UNKNOWN", "No cause is recorded: treatment continues until one is.", POLICY),
    Rule(
        "STOP-OTHER-CAUSE",
        "A cause other than diet is recorded: whether injections can ever stop is the physician's call.",
        FIRST,
    ),
    Rule("STOP-NOT-YET", "Diet is the only cause, but not every condition for an oral switch is met yet.", FIRST),
    Rule(
        "STOP-DIETARY-ORAL",
        "Diet is the only cause, the {loading_doses} loading doses are given, B12 is normal (above "
        "{b12_normal_above} pg/mL) and confirmed by MMA (below {mma_high_at} nmol/L) or homocysteine (below "
        "{homocysteine_high_at} umol/L), intake is adequate and there are no neurological symptoms: a physician may "
        "switch to {oral_dose_text}, with a recheck {oral_recheck_months:every}.",
        BOTH,
    ),
    # Alerts
    Rule(
        "ALERT-FOLIC-BEFORE-B12",
        "Folic acid started before the {loading_doses} loading doses were complete: it can mask anemia while nerve "
        "damage progresses.",
        BOTH,
    ),
    Rule(
        "ALERT-FOLIC-NO-DEFICIENCY",
        "Folic acid is active with no low folate result (below {folate_low_below} ng/mL) on record: add it only for "
        "documented folate deficiency.",
        FIRST,
    ),
    Rule(
        "ALERT-B12-LOW",
        "The latest B12 since maintenance started is low (below {b12_low_below} pg/mL): possible treatment failure.",
        FIRST,
    ),
    Rule("ALERT-B12-BORDERLINE", f"The latest B12 is borderline ({B12_BORDERLINE}): order MMA.", FIRST),
    Rule(
        "ALERT-FUNCTIONAL-DEFICIENCY",
        "The latest MMA (at or above {mma_high_at} nmol/L) or homocysteine (at or above {homocysteine_high_at} "
        "umol/L) is above target: functional deficiency despite the serum B12.",
        FIRST,
    ),
    Rule("ALERT-SYMPTOMS-NORMAL-B12", "Symptoms persist while the latest B12 is normal: check MMA.", FIRST),
    Rule(
        "ALERT-NEURO-PERSISTENT",
        "Neurological symptoms persist in maintenance: consider injections every 2 weeks or weekly (a physician "
        "decides).",
        FIRST,
    ),
    Rule(
        "ALERT-SYMPTOMS-RECURRED",
        "A symptom that had resolved is back: consider more frequent injections.",
        SECOND,
    ),
    Rule(
        "ALERT-IRON-DEFICIENCY",
        "The latest ferritin (below {ferritin_low_below} ug/L) or transferrin saturation (below {tsat_low_below} %) "
        "is low: iron deficiency blunts the response.",
        FIRST,
    ),
    Rule(
        "ALERT-VITAMIN-D-LOW",
        "After bariatric surgery, the latest vitamin D is below target (below {vitamin_d_low_below} nmol/L).",
        FIRST,
    ),
    Rule("ALERT-INJECTION-OVERDUE", "The next injection is past its due date.", POLICY),
    Rule("ALERT-RECHECK-OVERDUE", "The next lab recheck is past its due date.", POLICY),
    Rule(
        "ALERT-PREGNANCY-BARIATRIC",
        "Pregnant after bariatric surgery: B12 {pregnancy_bariatric_gap_months:every} (the source: each trimester) "
        "with the nutritional panel.",
        FIRST,
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def rule_text(rule_id: str, profile: Profile | None = None) -> str:
    """The text of a rule for a profile (the default profile when none is given)."""
    return RULES[rule_id].render(profile or DEFAULT_PROFILE)


def rule_texts(profile: Profile | None = None) -> Mapping[str, str]:
    """Every rule's text for a profile, by id."""
    return {rule_id: rule.render(profile or DEFAULT_PROFILE) for rule_id, rule in RULES.items()}


ALERT_SEVERITY: dict[str, str] = {
    "ALERT-FOLIC-BEFORE-B12": "high",
    "ALERT-FOLIC-NO-DEFICIENCY": "medium",
    "ALERT-B12-LOW": "high",
    "ALERT-B12-BORDERLINE": "medium",
    "ALERT-FUNCTIONAL-DEFICIENCY": "medium",
    "ALERT-SYMPTOMS-NORMAL-B12": "medium",
    "ALERT-NEURO-PERSISTENT": "high",
    "ALERT-SYMPTOMS-RECURRED": "medium",
    "ALERT-IRON-DEFICIENCY": "medium",
    "ALERT-VITAMIN-D-LOW": "medium",
    "ALERT-INJECTION-OVERDUE": "high",
    "ALERT-RECHECK-OVERDUE": "medium",
    "ALERT-PREGNANCY-BARIATRIC": "info",
}
SEVERITY_ORDER = {"high": 0, "medium": 1, "info": 2}
