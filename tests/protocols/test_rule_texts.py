"""Rule texts follow the profile: every number a clinic can change in its profile is filled in from it,
so the chart's "Why?" states the numbers the engine used. Sources are cited by title."""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
import re
from decimal import Decimal

import pytest

from protocols.engine.profiles import BUILTIN_PROFILES, DEFAULT_PROFILE_SLUG, SETTING_NAMES, Profile
from protocols.engine.rules import DERIVED, FIXED, RULES, SOURCES, rule_text, rule_texts

DEFAULT = BUILTIN_PROFILES[DEFAULT_PROFILE_SLUG]
HYDROXO = BUILTIN_PROFILES["hydroxocobalamin-3-monthly"]
SOURCES_DIR = pathlib.Path(__file__).resolve().parents[3] / "shared" / "protocol" / "sources"
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
# Numbers a rule may state although they are no profile setting (GUIDANCE.md's own wording).
NOT_SETTINGS = {"ALERT-NEURO-PERSISTENT": {"2"}}


def edited(profile: Profile = DEFAULT, **changes: object) -> Profile:
    return dataclasses.replace(profile, **changes)


EDITS = [
    # (settings changed, rule, text it must now contain, old text it must no longer contain)
    ({"ileal_over_cm": 25}, "SCHED-ILEAL", "over 25 cm", "20 cm"),
    ({"ileal_over_cm": 25}, "STOP-ILEAL", "over 25 cm", "20 cm"),
    ({"ileal_interval_months": 2}, "SCHED-ILEAL", "every 2 months for life", "every month"),
    ({"crohn_over_cm": 35}, "STOP-CROHN", "over 35 cm", "30 cm"),
    ({"age_over_years": 80}, "STOP-AGE", "Older than 80 (81 or more completed years)", "75"),
    ({"age_rule_enabled": False}, "STOP-AGE", "has turned this rule off", "may turn"),
    ({"drug_cause_months": 6}, "STOP-DRUG", "more than 6 months", "4 months"),
    ({"first_year_check_months": (2, 4, 12)}, "MON-FIRST-YEAR", "at 2, 4 and 12 months", "3, 6"),
    ({"first_year_check_months": (6,)}, "MON-FIRST-YEAR", "at 6 months after", "6 and 12"),
    ({"recheck_window_days": 21}, "MON-FIRST-YEAR", "from 21 days before", "14 days"),
    ({"recheck_window_days": 21}, "MON-UNTIL-STABLE", "from 21 days before", "14 days"),
    ({"recheck_window_days": 1}, "MON-OVERRIDE", "from 1 day before", "14 days"),
    ({"until_stable_first_check_months": 4}, "MON-UNTIL-STABLE", "recheck 4 months after", "3 months"),
    ({"stable_recheck_months": 24}, "MON-STABLE", "a recheck every 24 months", "12 months"),
    ({"unstable_recheck_months": 2}, "MON-STABLE", "otherwise every 2 months", "3 months"),
    ({"b12_normal_above": Decimal(400)}, "MON-STABLE", "above 400 pg/mL", "350"),
    ({"high_risk_max_gap_months": 4}, "MON-HIGH-RISK", "no more than 4 months", "6 months"),
    ({"bariatric_max_gap_months": 4}, "MON-BARIATRIC", "no more than 4 months", "6 months"),
    ({"pregnancy_bariatric_gap_months": 2}, "MON-PREGNANCY-BARIATRIC", "every 2 months", "3 months"),
    ({"pregnancy_bariatric_gap_months": 2}, "ALERT-PREGNANCY-BARIATRIC", "every 2 months", "3 months"),
    ({"oral_recheck_months": 6}, "MON-ORAL", "every 6 months", "12 months"),
    ({"oral_recheck_months": 6}, "STOP-DIETARY-ORAL", "a recheck every 6 months", "12 months"),
    ({"oral_dose_text": "oral cyanocobalamin 2000 mcg daily"}, "STOP-DIETARY-ORAL", "2000 mcg daily", "1000-2000"),
    ({"b12_low_below": Decimal(200)}, "ALERT-B12-LOW", "below 200 pg/mL", "180"),
    ({"b12_low_below": Decimal("200.5")}, "ALERT-B12-BORDERLINE", "(200.5-350 pg/mL)", "180"),
    ({"b12_normal_above": Decimal(400)}, "MON-FUNCTIONAL", "(180-400 pg/mL)", "350"),
    ({"b12_normal_above": Decimal(400)}, "STOP-DIETARY-ORAL", "above 400 pg/mL", "350"),
    ({"mma_high_at": Decimal(300)}, "STOP-DIETARY-ORAL", "MMA (below 300 nmol/L)", "271"),
    ({"homocysteine_high_at": Decimal(15)}, "ALERT-FUNCTIONAL-DEFICIENCY", "at or above 15 umol/L", "10 umol"),
    ({"mma_high_at": Decimal(300)}, "ALERT-FUNCTIONAL-DEFICIENCY", "at or above 300 nmol/L", "271"),
    ({"ferritin_low_below": Decimal(50)}, "ALERT-IRON-DEFICIENCY", "below 50 ug/L", "30"),
    ({"tsat_low_below": Decimal(16)}, "ALERT-IRON-DEFICIENCY", "below 16 %", "20 %"),
    ({"folate_low_below": Decimal("2.5")}, "ALERT-FOLIC-NO-DEFICIENCY", "below 2.5 ng/mL", "3 ng"),
    ({"vitamin_d_low_below": Decimal(50)}, "ALERT-VITAMIN-D-LOW", "below 50 nmol/L", "75"),
    ({"loading_doses": 5}, "SCHED-LOAD", "the first 5 doses", "4 doses"),
    ({"loading_doses": 5}, "ALERT-FOLIC-BEFORE-B12", "the 5 loading doses", "4 loading"),
    ({"loading_interval_days": 14}, "SCHED-LOAD", "14 days apart", "7 days"),
    ({"maintenance_interval_months": 2}, "SCHED-MAINT", "every 2 months on this profile", "every month"),
    ({"neuro_interval_months": 2}, "SCHED-NEURO-INTERVAL", "every 2 months instead of every month", "stay"),
]


@pytest.mark.parametrize(
    ("changes", "rule_id", "now", "before"), EDITS, ids=[f"{rule} {changes}" for changes, rule, _, _ in EDITS]
)
def test_it_states_the_numbers_of_the_edited_profile(changes: dict, rule_id: str, now: str, before: str) -> None:
    assert before in rule_text(rule_id, DEFAULT)
    text = rule_text(rule_id, edited(**changes))
    assert now in text and before not in text, text


def test_it_renders_each_builtin_profile() -> None:
    assert "every 2 months instead of every 3 months" in rule_text("SCHED-NEURO-INTERVAL", HYDROXO)
    assert "stay every month" in rule_text("SCHED-NEURO-INTERVAL", DEFAULT)
    assert "every 3 months on this profile" in rule_text("SCHED-MAINT", HYDROXO)


def _scrambled() -> Profile:
    """The default profile with every numeric setting changed to an odd number no text hard-codes (101,
    103, ...), so a number left over from the defaults stands out. Derived values (age + 1) are even."""
    odd = itertools.count(101, 2)
    changes: dict[str, object] = {}
    for name in SETTING_NAMES:
        value = getattr(DEFAULT, name)
        if isinstance(value, bool):
            continue
        if isinstance(value, Decimal):
            changes[name] = Decimal(next(odd)) + Decimal("0.5")
        elif isinstance(value, tuple):
            changes[name] = tuple(next(odd) for _ in value)
        elif isinstance(value, int) or (value is None and name.endswith("_months")):
            changes[name] = next(odd)
        elif name == "oral_dose_text":
            changes[name] = "oral B12 as the clinic decides"
    return edited(**changes)


SCRAMBLED = _scrambled()


def _numbers(value: object) -> set[str]:
    return set(NUMBER.findall(" ".join(str(v) for v in value) if isinstance(value, tuple) else str(value)))


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_it_hard_codes_no_number_that_is_a_setting(rule_id: str) -> None:
    rule = RULES[rule_id]
    allowed = set(NOT_SETTINGS.get(rule_id, set()))
    for name in rule.settings:
        allowed |= _numbers(getattr(SCRAMBLED, name))
    for compute, _ in DERIVED.values():
        allowed |= _numbers(compute(SCRAMBLED))
    allowed |= {str(value) for value in FIXED.values()}
    text = rule.render(SCRAMBLED)
    assert set(NUMBER.findall(text)) <= allowed, text
    # ...and the template itself writes no number outside its {fields}, save GUIDANCE.md's own wording.
    literal = re.sub(r"\{[^}]*\}", "", rule.template)
    assert set(NUMBER.findall(literal)) <= NOT_SETTINGS.get(rule_id, set()), rule.template


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_it_changes_a_text_exactly_when_a_setting_it_reads_changes(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert set(rule.settings) <= set(SETTING_NAMES)
    for name in rule.settings:
        changed = edited(**{name: getattr(SCRAMBLED, name)}) if name != "age_rule_enabled" else edited(**{name: False})
        assert rule.render(changed) != rule.text, (rule_id, name)
    if not rule.settings:
        assert rule.render(SCRAMBLED) == rule.render(HYDROXO) == rule.text


def test_it_keeps_the_default_profile_text_for_existing_callers() -> None:
    texts = rule_texts()
    for rule_id, rule in RULES.items():
        assert rule.text == rule_text(rule_id) == rule_text(rule_id, DEFAULT) == texts[rule_id]
        assert rule.text.endswith(".") and "{" not in rule.text and "}" not in rule.text
    assert rule_texts(HYDROXO)["SCHED-MAINT"] == rule_text("SCHED-MAINT", HYDROXO)


def test_it_cites_each_source_by_title() -> None:
    for rule in RULES.values():
        assert rule.sources and set(rule.sources) <= set(SOURCES)
        assert rule.source_titles == tuple(SOURCES[key] for key in rule.sources)
        assert rule.source == "; ".join(rule.sources)  # the file names, as callers read them before titles
    assert RULES["SCHED-ILEAL"].source_titles == ("The next step after four weekly B12 injections",)
    assert RULES["STOP-ILEAL"].source_titles == ("Rechecking B12 and stopping injections after IM cyanocobalamin",)
    assert RULES["ALERT-INJECTION-OVERDUE"].source_titles == ("Clinic policy (GUIDANCE.md)",)


def test_it_has_a_title_for_every_source_file() -> None:
    if not SOURCES_DIR.is_dir():
        pytest.skip("../shared/protocol/sources is not beside this checkout")
    files = {path.name for path in SOURCES_DIR.iterdir() if path.is_file()}
    assert files == set(SOURCES) - {"GUIDANCE.md"}
