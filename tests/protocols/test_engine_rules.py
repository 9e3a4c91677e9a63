"""Every GUIDANCE.md rule at its boundaries: one side fires the rule, the other just misses it.

Each row names the rules that must and must not shape the result, and any result fields to check.
`test_it_covers_every_rule_from_both_sides` keeps the table honest: every rule id needs a row that
fires it and a row that just misses it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from protocols.engine.evaluate import evaluate
from protocols.engine.profiles import BUILTIN_PROFILES
from protocols.engine.rules import RULES

from .builders import D, cause, facts, history, loading

PA = [cause("pernicious_anemia")]
DIET = [cause("dietary")]
HYDROXO = "hydroxocobalamin-3-monthly"
FIRST_YEAR_DONE_LABS = [("2025-05-22", "b12", 380), ("2025-08-20", "b12", 410), ("2026-02-20", "b12", 455)]
VEGAN_LOADING = loading(D("2026-01-05")) + [D("2026-02-26")]


def vegan(**changes: Any):
    """The oral-switch candidate of case 004; `changes` replace one condition at a time."""
    base: dict[str, Any] = {
        "causes": DIET,
        "diet": True,
        "injections": VEGAN_LOADING,
        "labs": [("2025-12-30", "b12", 150), ("2026-03-01", "b12", 520), ("2026-03-01", "mma", 180)],
        "symptoms": [("2026-03-01", False, False)],
    }
    base.update(changes)
    return facts("2026-03-02", **base)


def maint(as_of: str, **kw: Any):
    """Pernicious anemia on monthly cyanocobalamin, every dose on time up to `as_of`."""
    kw.setdefault("causes", PA)
    return facts(as_of, injections=history(D(as_of)), **kw)


Row = tuple[str, Any, dict[str, Any]]
ROWS: list[Row] = [
    # --- Schedule
    (
        "no dose yet: first loading dose due today",
        facts("2026-01-08", causes=PA),
        {
            "fires": ["SCHED-LOAD"],
            "misses": ["SCHED-MAINT"],
            "phase": "not_started",
            "next_injection_due": "2026-01-08",
            "loading_doses_given": 0,
        },
    ),
    (
        "3 of 4 loading doses: next 7 days after the last",
        facts("2025-01-18", causes=PA, injections=loading(doses=3)),
        {
            "fires": ["SCHED-LOAD"],
            "misses": ["SCHED-MAINT"],
            "phase": "loading",
            "next_injection_due": "2025-01-24",
            "next_recheck_due": None,
            "recheck_labs": [],
        },
    ),
    (
        "4 of 4 loading doses: maintenance",
        facts("2025-01-25", causes=PA, injections=loading()),
        {
            "fires": ["SCHED-MAINT"],
            "misses": ["SCHED-LOAD"],
            "phase": "maintenance",
            "next_injection_due": "2025-02-24",
            "maintenance_start": "2025-02-24",
        },
    ),
    (
        "31 Dec + 1 month = 31 Jan, then 28 Feb",
        facts("2026-02-01", causes=PA, injections=loading(D("2025-12-10")) + [D("2026-01-31")]),
        {"fires": ["SCHED-MAINT"], "maintenance_start": "2026-01-31", "next_injection_due": "2026-02-28"},
    ),
    (
        "31 Jan + 1 month in a leap year = 29 Feb",
        facts("2024-02-01", causes=PA, injections=loading(D("2023-12-10")) + [D("2024-01-31")]),
        {"fires": ["SCHED-MAINT"], "next_injection_due": "2024-02-29"},
    ),
    (
        "physician override of 2 months wins; engine suggests 1",
        maint("2025-03-01", override=2),
        {
            "fires": ["SCHED-OVERRIDE"],
            "maintenance_interval_months": 2,
            "suggested_interval_months": 1,
            "next_injection_due": "2025-04-24",
        },
    ),
    (
        "no override: the profile's interval",
        maint("2025-03-01"),
        {"fires": ["SCHED-MAINT"], "misses": ["SCHED-OVERRIDE"], "maintenance_interval_months": 1},
    ),
    (
        "override beats ileal resection",
        maint("2025-03-01", override=3, causes=[cause("ileal_resection", length_cm=40)]),
        {
            "fires": ["SCHED-OVERRIDE"],
            "misses": ["SCHED-ILEAL"],
            "maintenance_interval_months": 3,
            "suggested_interval_months": 1,
        },
    ),
    (
        "ileal resection 21 cm: monthly even on hydroxocobalamin",
        facts("2025-01-25", profile=HYDROXO, causes=[cause("ileal_resection", length_cm=21)], injections=loading()),
        {"fires": ["SCHED-ILEAL", "STOP-ILEAL"], "maintenance_interval_months": 1, "next_injection_due": "2025-02-24"},
    ),
    (
        "ileal resection 20 cm: the profile's 3 months",
        facts("2025-01-25", profile=HYDROXO, causes=[cause("ileal_resection", length_cm=20)], injections=loading()),
        {
            "misses": ["SCHED-ILEAL", "STOP-ILEAL"],
            "fires": ["STOP-OTHER-CAUSE"],
            "maintenance_interval_months": 3,
            "next_injection_due": "2025-04-24",
        },
    ),
    (
        "ileal resection beats neurological involvement",
        facts(
            "2025-01-25",
            profile=HYDROXO,
            neuro=True,
            causes=[cause("ileal_resection", length_cm=21)],
            injections=loading(),
        ),
        {"fires": ["SCHED-ILEAL"], "misses": ["SCHED-NEURO-INTERVAL"], "maintenance_interval_months": 1},
    ),
    (
        "neurological involvement on hydroxocobalamin: every 2 months",
        facts("2025-01-25", profile=HYDROXO, neuro=True, causes=PA, injections=loading()),
        {"fires": ["SCHED-NEURO-INTERVAL"], "maintenance_interval_months": 2, "next_injection_due": "2025-03-24"},
    ),
    (
        "neurological involvement on the monthly profile: stays monthly",
        facts("2025-01-25", neuro=True, causes=PA, injections=loading()),
        {"misses": ["SCHED-NEURO-INTERVAL"], "maintenance_interval_months": 1},
    ),
    (
        "hydroxocobalamin without neurological involvement: 3 months",
        facts("2025-01-25", profile=HYDROXO, causes=PA, injections=loading()),
        {"misses": ["SCHED-NEURO-INTERVAL"], "maintenance_interval_months": 3},
    ),
    (
        "switched to oral: no injection due",
        vegan(oral_since="2026-03-02"),
        {
            "fires": ["SCHED-ORAL", "MON-ORAL"],
            "misses": ["SCHED-MAINT", "ALERT-INJECTION-OVERDUE"],
            "phase": "oral",
            "next_injection_due": None,
            "maintenance_interval_months": None,
            "next_recheck_due": "2027-03-02",
        },
    ),
    (
        "oral switch dated tomorrow: still injections",
        vegan(oral_since="2026-03-03"),
        {"misses": ["SCHED-ORAL", "MON-ORAL"], "phase": "maintenance"},
    ),
    # --- Monitoring
    (
        "first-year check drawn 14 days early counts",
        maint("2025-06-01", labs=[("2025-05-10", "b12", 400)]),
        {
            "fires": ["MON-FIRST-YEAR"],
            "misses": ["MON-STABLE", "MON-UNTIL-STABLE", "ALERT-RECHECK-OVERDUE"],
            "next_recheck_due": "2025-08-24",
        },
    ),
    (
        "first-year check drawn 15 days early does not",
        maint("2025-06-01", labs=[("2025-05-09", "b12", 400)]),
        {"fires": ["MON-FIRST-YEAR", "ALERT-RECHECK-OVERDUE"], "next_recheck_due": "2025-05-24"},
    ),
    (
        "B12 before maintenance start is not a monitoring result",
        maint("2025-05-01", labs=[("2025-02-23", "b12", 170)]),
        {"fires": ["MON-FIRST-YEAR"], "misses": ["ALERT-B12-LOW"], "next_recheck_due": "2025-05-24"},
    ),
    (
        "until-stable: first check at M + 3 months",
        facts("2025-07-01", profile=HYDROXO, causes=PA, injections=loading() + [D("2025-04-24")]),
        {
            "fires": ["MON-UNTIL-STABLE"],
            "misses": ["MON-FIRST-YEAR", "MON-STABLE"],
            "maintenance_start": "2025-04-24",
            "next_recheck_due": "2025-07-24",
        },
    ),
    (
        "until-stable: first check done 14 days early, then MON-STABLE (one normal: 3 months)",
        facts(
            "2025-08-01",
            profile=HYDROXO,
            causes=PA,
            injections=loading() + [D("2025-04-24")],
            labs=[("2025-07-10", "b12", 500)],
        ),
        {
            "fires": ["MON-UNTIL-STABLE", "MON-STABLE"],
            "next_recheck_due": "2025-10-10",
            "recheck_labs": ["b12", "cbc", "homocysteine", "iron"],
        },
    ),
    (
        "until-stable: 15 days early is not done",
        facts(
            "2025-07-20",
            profile=HYDROXO,
            causes=PA,
            injections=loading() + [D("2025-04-24")],
            labs=[("2025-07-09", "b12", 500)],
        ),
        {"fires": ["MON-UNTIL-STABLE"], "misses": ["MON-STABLE"], "next_recheck_due": "2025-07-24"},
    ),
    (
        "first year done, last two normal: yearly",
        maint("2026-03-01", labs=FIRST_YEAR_DONE_LABS),
        {"fires": ["MON-STABLE"], "misses": ["MON-HIGH-RISK", "MON-BARIATRIC"], "next_recheck_due": "2027-02-20"},
    ),
    (
        "first year done, latest 351 pg/mL: still stable",
        maint("2026-03-01", labs=FIRST_YEAR_DONE_LABS[:2] + [("2026-02-20", "b12", 351)]),
        {"fires": ["MON-STABLE"], "next_recheck_due": "2027-02-20"},
    ),
    (
        "first year done, latest 350 pg/mL (borderline): every 3 months",
        maint("2026-03-01", labs=FIRST_YEAR_DONE_LABS[:2] + [("2026-02-20", "b12", 350)]),
        {
            "fires": ["MON-STABLE", "MON-FUNCTIONAL", "ALERT-B12-BORDERLINE"],
            "next_recheck_due": "2026-05-20",
            "recheck_labs": ["b12", "cbc", "homocysteine", "iron", "mma"],
        },
    ),
    (
        "two of three first-year checks done: the 12-month check is next",
        maint("2025-12-01", labs=FIRST_YEAR_DONE_LABS[:2]),
        {"fires": ["MON-FIRST-YEAR"], "misses": ["MON-STABLE"], "next_recheck_due": "2026-02-24"},
    ),
    (
        "neurological involvement caps the yearly gap at 6 months",
        maint("2026-03-01", labs=FIRST_YEAR_DONE_LABS, neuro=True),
        {"fires": ["MON-HIGH-RISK"], "next_recheck_due": "2026-08-20"},
    ),
    (
        "symptoms with a normal B12 cap at 6 months and add MMA",
        maint("2026-03-01", labs=FIRST_YEAR_DONE_LABS, symptoms=[("2026-02-20", False, True)]),
        {
            "fires": ["MON-HIGH-RISK", "MON-FUNCTIONAL", "ALERT-SYMPTOMS-NORMAL-B12"],
            "next_recheck_due": "2026-08-20",
            "recheck_labs": ["b12", "cbc", "homocysteine", "iron", "mma"],
        },
    ),
    (
        "symptoms resolved at the latest check: no cap",
        maint(
            "2026-03-01", labs=FIRST_YEAR_DONE_LABS, symptoms=[("2025-06-01", True, True), ("2026-02-20", False, False)]
        ),
        {"misses": ["MON-HIGH-RISK", "MON-FUNCTIONAL", "ALERT-SYMPTOMS-NORMAL-B12"], "next_recheck_due": "2027-02-20"},
    ),
    (
        "bariatric: 6-month cap and the nutritional panel",
        maint("2026-03-01", labs=FIRST_YEAR_DONE_LABS, causes=[cause("bariatric_surgery", procedure="sleeve")]),
        {
            "fires": ["MON-BARIATRIC", "STOP-BARIATRIC"],
            "misses": ["MON-HIGH-RISK", "MON-PREGNANCY-BARIATRIC"],
            "next_recheck_due": "2026-08-20",
            "recheck_labs": ["b12", "bariatric_panel", "cbc", "iron"],
        },
    ),
    (
        "bariatric and planning pregnancy: high risk, 6 months",
        maint(
            "2026-03-01",
            labs=FIRST_YEAR_DONE_LABS,
            pregnancy="planning",
            causes=[cause("bariatric_surgery", procedure="gastric_bypass")],
        ),
        {
            "fires": ["MON-HIGH-RISK", "MON-BARIATRIC"],
            "misses": ["MON-PREGNANCY-BARIATRIC", "ALERT-PREGNANCY-BARIATRIC"],
            "next_recheck_due": "2026-08-20",
        },
    ),
    (
        "pregnant after bariatric surgery: every 3 months",
        maint(
            "2026-03-01",
            labs=FIRST_YEAR_DONE_LABS,
            pregnancy="pregnant",
            causes=[cause("bariatric_surgery", procedure="gastric_bypass")],
        ),
        {"fires": ["MON-PREGNANCY-BARIATRIC", "ALERT-PREGNANCY-BARIATRIC"], "next_recheck_due": "2026-05-20"},
    ),
    (
        "pregnant without bariatric surgery: no trimester rule",
        maint("2026-03-01", labs=FIRST_YEAR_DONE_LABS, pregnancy="pregnant"),
        {
            "misses": ["MON-PREGNANCY-BARIATRIC", "ALERT-PREGNANCY-BARIATRIC", "STOP-BARIATRIC"],
            "next_recheck_due": "2027-02-20",
        },
    ),
    (
        "caps count from M when there is no monitoring B12",
        maint("2025-03-01", pregnancy="pregnant", causes=[cause("bariatric_surgery", procedure="other")]),
        {"fires": ["MON-PREGNANCY-BARIATRIC"], "next_recheck_due": "2025-05-24"},
    ),
    (
        "oral: 12 months after the latest B12 since the switch",
        vegan(oral_since="2026-03-01", labs=[("2026-03-01", "b12", 520), ("2026-03-01", "mma", 180)]),
        {"fires": ["MON-ORAL"], "next_recheck_due": "2027-03-01"},
    ),
    (
        "oral: a B12 the day before the switch does not count",
        facts(
            "2026-06-01",
            causes=DIET,
            injections=VEGAN_LOADING,
            oral_since="2026-03-02",
            labs=[("2026-03-01", "b12", 520)],
        ),
        {"fires": ["MON-ORAL"], "next_recheck_due": "2027-03-02"},
    ),
    (
        "latest B12 351 pg/mL: no functional markers",
        maint("2025-06-01", labs=[("2025-05-20", "b12", 351)]),
        {"misses": ["MON-FUNCTIONAL", "ALERT-B12-BORDERLINE"], "recheck_labs": ["b12", "cbc", "iron"]},
    ),
    # --- Discontinuation
    ("pernicious anemia: lifelong", maint("2025-03-01"), {"fires": ["STOP-PERNICIOUS"], "verdict": "lifelong"}),
    (
        "a permanent cause and a long PPI: lifelong, the drug rule listed too, not the physician's-call rules",
        maint("2025-03-01", causes=PA + [cause("ppi", start="2024-01-01")]),
        {"fires": ["STOP-PERNICIOUS", "STOP-DRUG"], "misses": ["STOP-OTHER-CAUSE"], "verdict": "lifelong"},
    ),
    (
        "a permanent cause and a short PPI: no drug rule",
        maint("2025-03-01", causes=PA + [cause("ppi", start="2025-01-01")]),
        {"fires": ["STOP-PERNICIOUS"], "misses": ["STOP-DRUG", "STOP-OTHER-CAUSE"], "verdict": "lifelong"},
    ),
    ("diet only is not pernicious", vegan(), {"misses": ["STOP-PERNICIOUS"], "verdict": "oral_switch_candidate"}),
    *[
        (
            f"bariatric surgery ({procedure}): lifelong",
            facts("2026-01-08", causes=[cause("bariatric_surgery", procedure=procedure)]),
            {"fires": ["STOP-BARIATRIC"], "verdict": "lifelong"},
        )
        for procedure in ("gastric_bypass", "biliopancreatic_diversion", "sleeve", "other")
    ],
    (
        "Crohn's with 31 cm ileal involvement: lifelong",
        facts("2026-01-08", causes=[cause("crohns_ileal", length_cm=31)]),
        {"fires": ["STOP-CROHN"], "verdict": "lifelong"},
    ),
    (
        "Crohn's with 30 cm: the physician's call",
        facts("2026-01-08", causes=[cause("crohns_ileal", length_cm=30)]),
        {"misses": ["STOP-CROHN"], "fires": ["STOP-OTHER-CAUSE"], "verdict": "continue"},
    ),
    (
        "76th birthday today: lifelong",
        facts("2026-03-01", birth="1950-03-01", causes=DIET),
        {"fires": ["STOP-AGE"], "verdict": "lifelong"},
    ),
    (
        "76th birthday tomorrow: not yet",
        facts("2026-03-01", birth="1950-03-02", causes=DIET),
        {"misses": ["STOP-AGE"], "fires": ["STOP-NOT-YET"], "verdict": "continue"},
    ),
    (
        "PPI for 4 months and a day: continue while it does",
        facts("2026-03-02", causes=DIET + [cause("ppi", start="2025-11-01")]),
        {"fires": ["STOP-DRUG", "STOP-OTHER-CAUSE"], "verdict": "continue"},
    ),
    (
        "PPI for exactly 4 months: not yet STOP-DRUG",
        facts("2026-03-01", causes=DIET + [cause("ppi", start="2025-11-01")]),
        {"misses": ["STOP-DRUG"], "fires": ["STOP-OTHER-CAUSE"]},
    ),
    (
        "PPI stopped on as_of: no longer continues",
        facts("2026-03-02", causes=DIET + [cause("ppi", start="2025-01-01", stop="2026-03-02")]),
        {"misses": ["STOP-DRUG"], "fires": ["STOP-OTHER-CAUSE"]},
    ),
    (
        "PPI stopping tomorrow: still taken",
        facts("2026-03-02", causes=DIET + [cause("ppi", start="2025-01-01", stop="2026-03-03")]),
        {"fires": ["STOP-DRUG"]},
    ),
    (
        "metformin from 31 Oct: 4 months end 28 Feb, so 1 Mar is over",
        facts("2026-03-01", causes=[cause("metformin", start="2025-10-31")]),
        {"fires": ["STOP-DRUG"]},
    ),
    (
        "metformin from 31 Oct, on 28 Feb: not over",
        facts("2026-02-28", causes=[cause("metformin", start="2025-10-31")]),
        {"misses": ["STOP-DRUG"], "fires": ["STOP-OTHER-CAUSE"]},
    ),
    ("no cause recorded", facts("2026-01-08"), {"fires": ["STOP-CAUSE-UNKNOWN"], "verdict": "continue"}),
    (
        "a cause recorded: not unknown",
        facts("2026-01-08", causes=[cause("other", note="gastritis")]),
        {"misses": ["STOP-CAUSE-UNKNOWN"], "fires": ["STOP-OTHER-CAUSE"], "verdict": "continue"},
    ),
    ("diet only: not another cause", vegan(diet=None), {"misses": ["STOP-OTHER-CAUSE"], "fires": ["STOP-NOT-YET"]}),
    (
        "vegan with every condition met: oral switch candidate",
        vegan(),
        {"fires": ["STOP-DIETARY-ORAL"], "misses": ["STOP-NOT-YET"], "verdict": "oral_switch_candidate"},
    ),
    (
        "vegan, 3 loading doses only",
        vegan(injections=loading(D("2026-01-05"), doses=3)),
        {"fires": ["STOP-NOT-YET"], "misses": ["STOP-DIETARY-ORAL"], "unmet": ["loading"]},
    ),
    (
        "vegan, B12 350 pg/mL",
        vegan(labs=[("2026-03-01", "b12", 350), ("2026-03-01", "mma", 180)]),
        {"fires": ["STOP-NOT-YET"], "unmet": ["b12_normal"]},
    ),
    (
        "vegan, MMA 271 nmol/L (at target)",
        vegan(labs=[("2026-03-01", "b12", 520), ("2026-03-01", "mma", 271)]),
        {"fires": ["STOP-NOT-YET", "ALERT-FUNCTIONAL-DEFICIENCY"], "unmet": ["functional_marker"]},
    ),
    (
        "vegan, MMA 270 nmol/L",
        vegan(labs=[("2026-03-01", "b12", 520), ("2026-03-01", "mma", 270)]),
        {"fires": ["STOP-DIETARY-ORAL"], "misses": ["ALERT-FUNCTIONAL-DEFICIENCY"]},
    ),
    (
        "vegan, homocysteine 9.99 umol/L instead of MMA",
        vegan(labs=[("2026-03-01", "b12", 520), ("2026-03-01", "homocysteine", "9.99")]),
        {"fires": ["STOP-DIETARY-ORAL"]},
    ),
    (
        "vegan, MMA fine but homocysteine 10 umol/L",
        vegan(labs=[("2026-03-01", "b12", 520), ("2026-03-01", "mma", 180), ("2026-03-01", "homocysteine", 10)]),
        {"fires": ["STOP-NOT-YET", "ALERT-FUNCTIONAL-DEFICIENCY"], "unmet": ["functional_marker"]},
    ),
    (
        "vegan, MMA drawn the day before loading began",
        vegan(labs=[("2026-03-01", "b12", 520), ("2026-01-04", "mma", 180)]),
        {"fires": ["STOP-NOT-YET"], "unmet": ["functional_marker"]},
    ),
    (
        "vegan, MMA drawn the day loading began",
        vegan(labs=[("2026-03-01", "b12", 520), ("2026-01-05", "mma", 180)]),
        {"fires": ["STOP-DIETARY-ORAL"]},
    ),
    ("vegan, intake not recorded", vegan(diet=None), {"fires": ["STOP-NOT-YET"], "unmet": ["dietary_intake"]}),
    ("vegan, intake inadequate", vegan(diet=False), {"fires": ["STOP-NOT-YET"], "unmet": ["dietary_intake"]}),
    (
        "vegan, neurological symptoms at the latest check",
        vegan(symptoms=[("2026-03-01", True, False)]),
        {"fires": ["STOP-NOT-YET"], "unmet": ["neurological_symptoms"]},
    ),
    (
        "vegan, no symptom check on record",
        vegan(symptoms=[]),
        {"fires": ["STOP-NOT-YET"], "unmet": ["neurological_symptoms"]},
    ),
    (
        "vegan, nothing met yet",
        facts("2026-01-01", causes=DIET),
        {
            "fires": ["STOP-NOT-YET"],
            "unmet": ["loading", "b12_normal", "functional_marker", "dietary_intake", "neurological_symptoms"],
        },
    ),
    # --- Alerts
    (
        "folic acid the day before the 4th loading dose",
        facts(
            "2026-02-01",
            causes=PA,
            injections=loading(D("2026-01-05")),
            medications=[("folic_acid", "2026-01-25", None)],
            labs=[("2026-01-02", "folate", 2)],
        ),
        {"fires": ["ALERT-FOLIC-BEFORE-B12"], "misses": ["ALERT-FOLIC-NO-DEFICIENCY"]},
    ),
    (
        "folic acid on the day of the 4th loading dose",
        facts(
            "2026-02-01",
            causes=PA,
            injections=loading(D("2026-01-05")),
            medications=[("folic_acid", "2026-01-26", None)],
            labs=[("2026-01-02", "folate", 2)],
        ),
        {"misses": ["ALERT-FOLIC-BEFORE-B12"]},
    ),
    (
        "folic acid with folate exactly 3 ng/mL (not low)",
        maint("2025-03-01", medications=[("folic_acid", "2025-02-01", None)], labs=[("2025-01-02", "folate", 3)]),
        {"fires": ["ALERT-FOLIC-NO-DEFICIENCY"]},
    ),
    (
        "folic acid with folate 2.99 ng/mL",
        maint("2025-03-01", medications=[("folic_acid", "2025-02-01", None)], labs=[("2025-01-02", "folate", "2.99")]),
        {"misses": ["ALERT-FOLIC-NO-DEFICIENCY"]},
    ),
    (
        "folic acid stopped on as_of",
        maint("2025-03-01", medications=[("folic_acid", "2025-02-01", "2025-03-01")]),
        {"misses": ["ALERT-FOLIC-NO-DEFICIENCY"]},
    ),
    (
        "folic acid stopping tomorrow",
        maint("2025-03-01", medications=[("folic_acid", "2025-02-01", "2025-03-02")]),
        {"fires": ["ALERT-FOLIC-NO-DEFICIENCY"]},
    ),
    (
        "monitoring B12 179 pg/mL: low",
        maint("2025-06-01", labs=[("2025-05-20", "b12", 179)]),
        {"fires": ["ALERT-B12-LOW"], "misses": ["ALERT-B12-BORDERLINE"]},
    ),
    (
        "monitoring B12 180 pg/mL: borderline, not low",
        maint("2025-06-01", labs=[("2025-05-20", "b12", 180)]),
        {"fires": ["ALERT-B12-BORDERLINE"], "misses": ["ALERT-B12-LOW"]},
    ),
    (
        "B12 132.804 pmol/L is exactly 180 pg/mL",
        maint("2025-06-01", labs=[("2025-05-20", "b12", "180.0000")]),
        {"fires": ["ALERT-B12-BORDERLINE"], "misses": ["ALERT-B12-LOW"]},
    ),
    (
        "B12 350 pg/mL: borderline",
        maint("2025-06-01", labs=[("2025-05-20", "b12", 350)]),
        {"fires": ["ALERT-B12-BORDERLINE", "MON-FUNCTIONAL"]},
    ),
    (
        "MMA 271 nmol/L: above target",
        maint("2025-06-01", labs=[("2025-05-20", "mma", 271)]),
        {"fires": ["ALERT-FUNCTIONAL-DEFICIENCY"]},
    ),
    (
        "MMA 270.9999 nmol/L: within target",
        maint("2025-06-01", labs=[("2025-05-20", "mma", "270.9999")]),
        {"misses": ["ALERT-FUNCTIONAL-DEFICIENCY"]},
    ),
    (
        "an old high MMA, a newer normal one",
        maint("2025-06-01", labs=[("2025-01-02", "mma", 900), ("2025-05-20", "mma", 150)]),
        {"misses": ["ALERT-FUNCTIONAL-DEFICIENCY"]},
    ),
    (
        "homocysteine 9.9 umol/L: within target",
        maint("2025-06-01", labs=[("2025-05-20", "homocysteine", "9.9")]),
        {"misses": ["ALERT-FUNCTIONAL-DEFICIENCY"]},
    ),
    (
        "depression with B12 351: symptoms despite normal B12",
        maint("2025-06-01", labs=[("2025-05-20", "b12", 351)], symptoms=[("2025-05-20", False, True)]),
        {"fires": ["ALERT-SYMPTOMS-NORMAL-B12"]},
    ),
    (
        "depression with B12 350: borderline instead",
        maint("2025-06-01", labs=[("2025-05-20", "b12", 350)], symptoms=[("2025-05-20", False, True)]),
        {"misses": ["ALERT-SYMPTOMS-NORMAL-B12"], "fires": ["ALERT-B12-BORDERLINE"]},
    ),
    (
        "neurological symptoms in maintenance",
        maint("2025-06-01", symptoms=[("2025-05-20", True, False)]),
        {"fires": ["ALERT-NEURO-PERSISTENT"]},
    ),
    (
        "neurological symptoms during loading",
        facts("2025-01-18", causes=PA, injections=loading(doses=3), symptoms=[("2025-01-17", True, False)]),
        {"misses": ["ALERT-NEURO-PERSISTENT"]},
    ),
    (
        "neurological symptoms earlier, none at the latest check",
        maint("2025-06-01", symptoms=[("2025-03-01", True, False), ("2025-05-20", False, False)]),
        {"misses": ["ALERT-NEURO-PERSISTENT"]},
    ),
    (
        "numbness present, gone, back",
        maint(
            "2025-06-01",
            symptoms=[("2025-02-01", True, False), ("2025-03-01", False, False), ("2025-05-20", True, False)],
        ),
        {"fires": ["ALERT-SYMPTOMS-RECURRED", "ALERT-NEURO-PERSISTENT"]},
    ),
    (
        "depression present, gone twice, back",
        maint(
            "2025-06-01",
            symptoms=[
                ("2025-02-01", False, True),
                ("2025-03-01", False, False),
                ("2025-04-01", False, False),
                ("2025-05-20", False, True),
            ],
        ),
        {"fires": ["ALERT-SYMPTOMS-RECURRED"]},
    ),
    (
        "depression never went away",
        maint(
            "2025-06-01",
            symptoms=[("2025-02-01", False, True), ("2025-03-01", False, True), ("2025-05-20", False, True)],
        ),
        {"misses": ["ALERT-SYMPTOMS-RECURRED"]},
    ),
    (
        "depression absent then present: new, not recurred",
        maint("2025-06-01", symptoms=[("2025-02-01", False, False), ("2025-05-20", False, True)]),
        {"misses": ["ALERT-SYMPTOMS-RECURRED"]},
    ),
    (
        "depression present then gone: resolved",
        maint("2025-06-01", symptoms=[("2025-02-01", False, True), ("2025-05-20", False, False)]),
        {"misses": ["ALERT-SYMPTOMS-RECURRED"]},
    ),
    (
        "ferritin 29.9999 ug/L",
        maint("2025-06-01", labs=[("2025-05-20", "ferritin", "29.9999")]),
        {"fires": ["ALERT-IRON-DEFICIENCY"]},
    ),
    (
        "ferritin 30 ug/L",
        maint("2025-06-01", labs=[("2025-05-20", "ferritin", 30)]),
        {"misses": ["ALERT-IRON-DEFICIENCY"]},
    ),
    (
        "transferrin saturation 19 %",
        maint("2025-06-01", labs=[("2025-05-20", "transferrin_saturation", 19)]),
        {"fires": ["ALERT-IRON-DEFICIENCY"]},
    ),
    (
        "transferrin saturation 20 %",
        maint("2025-06-01", labs=[("2025-05-20", "transferrin_saturation", 20)]),
        {"misses": ["ALERT-IRON-DEFICIENCY"]},
    ),
    (
        "bariatric, vitamin D 74.9 nmol/L",
        maint(
            "2025-06-01",
            causes=[cause("bariatric_surgery", procedure="sleeve")],
            labs=[("2025-05-20", "vitamin_d", "74.9")],
        ),
        {"fires": ["ALERT-VITAMIN-D-LOW"]},
    ),
    (
        "bariatric, vitamin D 75 nmol/L",
        maint(
            "2025-06-01",
            causes=[cause("bariatric_surgery", procedure="sleeve")],
            labs=[("2025-05-20", "vitamin_d", 75)],
        ),
        {"misses": ["ALERT-VITAMIN-D-LOW"]},
    ),
    (
        "no bariatric surgery, vitamin D 50 nmol/L",
        maint("2025-06-01", labs=[("2025-05-20", "vitamin_d", 50)]),
        {"misses": ["ALERT-VITAMIN-D-LOW"]},
    ),
    (
        "a day after the injection was due",
        facts("2025-06-25", causes=PA, injections=history(D("2025-05-24"))),
        {"fires": ["ALERT-INJECTION-OVERDUE"], "next_injection_due": "2025-06-24"},
    ),
    (
        "on the day the injection is due",
        facts("2025-06-24", causes=PA, injections=history(D("2025-05-24"))),
        {"misses": ["ALERT-INJECTION-OVERDUE"]},
    ),
    (
        "a loading dose a day late",
        facts("2025-01-25", causes=PA, injections=loading(doses=3)),
        {"fires": ["ALERT-INJECTION-OVERDUE"], "next_injection_due": "2025-01-24"},
    ),
    (
        "a day after the recheck was due",
        maint("2025-05-25"),
        {"fires": ["ALERT-RECHECK-OVERDUE"], "next_recheck_due": "2025-05-24"},
    ),
    ("on the day the recheck is due", maint("2025-05-24"), {"misses": ["ALERT-RECHECK-OVERDUE"]}),
    # --- Physician overrides: SCHED-OVERRIDE in days, MON-OVERRIDE (recheck_on)
    (
        "days override of 14: the next injection 14 days after the last, no interval in months",
        maint("2025-03-01", days=14),
        {
            "fires": ["SCHED-OVERRIDE", "SCHED-MAINT"],
            "maintenance_interval_months": None,
            "maintenance_interval_days": 14,
            "suggested_interval_months": 1,
            "next_injection_due": "2025-03-10",
        },
    ),
    (
        "days override at its minimum, 3 days",
        maint("2025-03-01", days=3),
        {"fires": ["SCHED-OVERRIDE"], "maintenance_interval_days": 3, "next_injection_due": "2025-02-27"},
    ),
    (
        "days override at its maximum, 90 days (24 Feb + 90 days = 25 May)",
        maint("2025-03-01", days=90),
        {"fires": ["SCHED-OVERRIDE"], "maintenance_interval_days": 90, "next_injection_due": "2025-05-25"},
    ),
    (
        "days override right after loading: M is the last loading dose + 14 days, checks count in months",
        facts("2025-01-25", causes=PA, injections=loading(), days=14),
        {
            "fires": ["SCHED-OVERRIDE", "MON-FIRST-YEAR"],
            "maintenance_start": "2025-02-07",
            "next_injection_due": "2025-02-07",
            "next_recheck_due": "2025-05-07",
        },
    ),
    (
        "days override during loading: loading doses stay 7 days apart",
        facts("2025-01-18", causes=PA, injections=loading(doses=3), days=14),
        {
            "fires": ["SCHED-LOAD", "SCHED-OVERRIDE"],
            "next_injection_due": "2025-01-24",
            "maintenance_interval_days": 14,
            "maintenance_interval_months": None,
        },
    ),
    (
        "days override beats ileal resection; the engine still suggests monthly",
        maint("2025-03-01", days=21, causes=[cause("ileal_resection", length_cm=40)]),
        {
            "fires": ["SCHED-OVERRIDE", "STOP-ILEAL"],
            "misses": ["SCHED-ILEAL"],
            "maintenance_interval_days": 21,
            "suggested_interval_months": 1,
            "next_injection_due": "2025-03-17",
        },
    ),
    (
        "days override on oral therapy: no interval at all",
        vegan(oral_since="2026-03-02", days=14),
        {
            "misses": ["SCHED-OVERRIDE"],
            "phase": "oral",
            "maintenance_interval_days": None,
            "maintenance_interval_months": None,
        },
    ),
    (
        "months override: no interval in days",
        maint("2025-03-01", override=2),
        {"maintenance_interval_days": None, "maintenance_interval_months": 2},
    ),
    (
        "recheck_on sooner than the first-year check wins",
        maint("2025-03-01", recheck_on="2025-04-15"),
        {
            "fires": ["MON-OVERRIDE"],
            "misses": ["MON-FIRST-YEAR"],
            "next_recheck_due": "2025-04-15",
            "recheck_override_in_force": True,
            "rules_recheck_due": "2025-05-24",
            "recheck_labs": ["b12", "cbc", "iron"],
        },
    ),
    (
        "recheck_on later than a cap wins over the cap (pregnant after bariatric surgery)",
        maint(
            "2025-03-01",
            pregnancy="pregnant",
            causes=[cause("bariatric_surgery", procedure="sleeve")],
            recheck_on="2025-12-01",
        ),
        {
            "fires": ["MON-OVERRIDE", "MON-BARIATRIC", "ALERT-PREGNANCY-BARIATRIC"],
            "misses": ["MON-PREGNANCY-BARIATRIC", "MON-FIRST-YEAR"],
            "next_recheck_due": "2025-12-01",
            "rules_recheck_due": "2025-05-24",
            "recheck_labs": ["b12", "bariatric_panel", "cbc", "iron"],
        },
    ),
    (
        "a B12 drawn 14 days before recheck_on spends it: the rules apply again",
        maint("2025-06-01", recheck_on="2025-06-01", labs=[("2025-05-18", "b12", 400)]),
        {
            "fires": ["MON-FIRST-YEAR"],
            "misses": ["MON-OVERRIDE"],
            "recheck_override_in_force": False,
            "next_recheck_due": "2025-08-24",
        },
    ),
    (
        "a B12 drawn 15 days before recheck_on does not",
        maint("2025-06-01", recheck_on="2025-06-01", labs=[("2025-05-17", "b12", 400)]),
        {
            "fires": ["MON-OVERRIDE"],
            "misses": ["ALERT-RECHECK-OVERDUE"],
            "recheck_override_in_force": True,
            "next_recheck_due": "2025-06-01",
            "rules_recheck_due": "2025-08-24",
        },
    ),
    (
        "recheck_on passed with no B12: the recheck is overdue",
        maint("2025-06-02", recheck_on="2025-06-01"),
        {"fires": ["MON-OVERRIDE", "ALERT-RECHECK-OVERDUE"], "next_recheck_due": "2025-06-01"},
    ),
    (
        "recheck_on while loading: no recheck is due yet",
        facts("2025-01-18", causes=PA, injections=loading(doses=3), recheck_on="2025-02-01"),
        {"misses": ["MON-OVERRIDE"], "next_recheck_due": None, "recheck_override_in_force": False},
    ),
    (
        "recheck_on before the first dose: no recheck is due yet",
        facts("2025-01-01", causes=PA, recheck_on="2025-02-01"),
        {"misses": ["MON-OVERRIDE"], "phase": "not_started", "next_recheck_due": None},
    ),
    (
        "recheck_on once loading is done, before the first maintenance dose",
        facts("2025-01-25", causes=PA, injections=loading(), recheck_on="2025-03-01"),
        {"fires": ["MON-OVERRIDE"], "next_recheck_due": "2025-03-01", "rules_recheck_due": "2025-05-24"},
    ),
    (
        "recheck_on on oral therapy wins over MON-ORAL",
        vegan(oral_since="2026-03-02", recheck_on="2026-06-02"),
        {
            "fires": ["MON-OVERRIDE", "SCHED-ORAL"],
            "misses": ["MON-ORAL"],
            "next_recheck_due": "2026-06-02",
            "rules_recheck_due": "2027-03-02",
        },
    ),
    (
        "oral therapy, a B12 14 days before recheck_on: MON-ORAL counts from it",
        facts(
            "2026-06-10",
            causes=DIET,
            injections=VEGAN_LOADING,
            oral_since="2026-03-02",
            recheck_on="2026-06-02",
            labs=[("2026-05-19", "b12", 520)],
        ),
        {"fires": ["MON-ORAL"], "misses": ["MON-OVERRIDE"], "next_recheck_due": "2027-05-19"},
    ),
    (
        "oral therapy, a B12 15 days before recheck_on: still in force, and overdue",
        facts(
            "2026-06-10",
            causes=DIET,
            injections=VEGAN_LOADING,
            oral_since="2026-03-02",
            recheck_on="2026-06-02",
            labs=[("2026-05-18", "b12", 520)],
        ),
        {
            "fires": ["MON-OVERRIDE", "ALERT-RECHECK-OVERDUE"],
            "misses": ["MON-ORAL"],
            "next_recheck_due": "2026-06-02",
            "rules_recheck_due": "2027-05-18",
        },
    ),
    (
        "an oral switch dated after as_of with recheck_on: injections, and the override applies",
        vegan(oral_since="2026-03-03", recheck_on="2026-04-01"),
        {"fires": ["MON-OVERRIDE"], "misses": ["SCHED-ORAL"], "phase": "maintenance", "next_recheck_due": "2026-04-01"},
    ),
    (
        "no recheck_on: the rules",
        maint("2025-03-01"),
        {"misses": ["MON-OVERRIDE"], "recheck_override_in_force": False, "rules_recheck_due": "2025-05-24"},
    ),
    # --- Readings of GUIDANCE.md kept on purpose
    (
        "reading: an oral_since after as_of is not yet in effect",
        vegan(oral_since="2026-03-03"),
        {
            "misses": ["SCHED-ORAL", "MON-ORAL"],
            "phase": "maintenance",
            "next_injection_due": "2026-03-26",
            "maintenance_interval_months": 1,
        },
    ),
    (
        "reading: STOP-DRUG is listed beside a permanent cause",
        maint(
            "2025-03-01",
            causes=[cause("bariatric_surgery", procedure="sleeve"), cause("metformin", start="2024-06-01")],
        ),
        {"fires": ["STOP-BARIATRIC", "STOP-DRUG"], "misses": ["STOP-OTHER-CAUSE"], "verdict": "lifelong"},
    ),
    (
        "reading: on oral therapy the bariatric cap counts from oral_since when no B12 since",
        facts(
            "2026-06-01",
            causes=[cause("bariatric_surgery", procedure="sleeve")],
            injections=VEGAN_LOADING,
            oral_since="2026-03-02",
            labs=[("2026-03-01", "b12", 520)],
        ),
        {"fires": ["MON-ORAL", "MON-BARIATRIC"], "next_recheck_due": "2026-09-02"},
    ),
    (
        "reading: on oral therapy the caps count from the latest B12 since oral_since",
        facts(
            "2026-06-01",
            causes=[cause("bariatric_surgery", procedure="sleeve")],
            injections=VEGAN_LOADING,
            oral_since="2026-03-02",
            pregnancy="pregnant",
            labs=[("2026-04-10", "b12", 520)],
        ),
        {"fires": ["MON-ORAL", "MON-PREGNANCY-BARIATRIC"], "next_recheck_due": "2026-07-10"},
    ),
    (
        "reading: the functional marker reads the latest homocysteine on record, an old high one blocks",
        vegan(
            labs=[
                ("2026-03-01", "b12", 520),
                ("2026-03-01", "mma", 180),
                ("2025-12-01", "homocysteine", 12),
            ]
        ),
        {"fires": ["STOP-NOT-YET", "ALERT-FUNCTIONAL-DEFICIENCY"], "unmet": ["functional_marker"]},
    ),
    (
        "reading: the old high homocysteine re-measured within target no longer blocks",
        vegan(
            labs=[
                ("2026-03-01", "b12", 520),
                ("2026-03-01", "mma", 180),
                ("2025-12-01", "homocysteine", 12),
                ("2026-03-01", "homocysteine", 8),
            ]
        ),
        {"fires": ["STOP-DIETARY-ORAL"], "misses": ["ALERT-FUNCTIONAL-DEFICIENCY"]},
    ),
    (
        "reading: an MMA from before loading is within target and a homocysteine since loading confirms",
        vegan(labs=[("2026-03-01", "b12", 520), ("2025-12-01", "mma", 180), ("2026-03-01", "homocysteine", 8)]),
        {"fires": ["STOP-DIETARY-ORAL"]},
    ),
    (
        "reading: no symptom check on record, the oral switch is not offered",
        vegan(symptoms=[]),
        {"misses": ["STOP-DIETARY-ORAL"], "verdict": "continue", "unmet": ["neurological_symptoms"]},
    ),
]

AGE_RULE_OFF = dataclasses.replace(BUILTIN_PROFILES["monthly-cyanocobalamin"], age_rule_enabled=False)


def check(row: Row, profile=None) -> None:
    name, case, expect = row
    result = evaluate(case, profile or BUILTIN_PROFILES[case.regimen.profile])
    for rule_id in expect.get("fires", []):
        assert rule_id in result.rules, f"{name}: {rule_id} should fire; rules were {result.rules}"
    for rule_id in expect.get("misses", []):
        assert rule_id not in result.rules, f"{name}: {rule_id} should not fire; rules were {result.rules}"
    for key in (
        "phase",
        "loading_doses_given",
        "maintenance_interval_months",
        "maintenance_interval_days",
        "suggested_interval_months",
        "recheck_override_in_force",
    ):
        if key in expect:
            assert getattr(result, key) == expect[key], name
    for key in ("maintenance_start", "next_injection_due", "next_recheck_due", "rules_recheck_due"):
        if key in expect:
            want = D(expect[key]) if expect[key] else None
            assert getattr(result, key) == want, f"{name}: {key} {getattr(result, key)} != {want}"
    if "recheck_labs" in expect:
        assert sorted(result.recheck_labs) == sorted(expect["recheck_labs"]), name
    if "verdict" in expect:
        assert result.discontinuation.verdict == expect["verdict"], name
    if "unmet" in expect:
        assert list(result.discontinuation.unmet) == expect["unmet"], name


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_it_applies_each_rule_at_its_boundary(row: Row) -> None:
    check(row)


def test_it_lets_a_clinic_turn_the_age_rule_off() -> None:
    row = ("76 with the age rule off", facts("2026-03-01", birth="1950-03-01", causes=DIET), {"misses": ["STOP-AGE"]})
    check(row, AGE_RULE_OFF)


def test_it_covers_every_rule_from_both_sides() -> None:
    fired = {rule_id for _, _, expect in ROWS for rule_id in expect.get("fires", [])}
    missed = {rule_id for _, _, expect in ROWS for rule_id in expect.get("misses", [])}
    assert set(RULES) - fired == set(), "rules no row fires"
    # A rule that cannot be "just missed" in a row still needs a row where it does not apply.
    assert set(RULES) - missed == set(), "rules no row just misses"


def test_it_names_the_rules_behind_each_result() -> None:
    result = evaluate(
        maint("2026-03-01", labs=FIRST_YEAR_DONE_LABS, neuro=True), BUILTIN_PROFILES["monthly-cyanocobalamin"]
    )
    assert result.because["next_recheck_due"] == ("MON-FIRST-YEAR", "MON-STABLE", "MON-HIGH-RISK")
    assert result.because["next_injection_due"] == ("SCHED-MAINT",)
    assert result.because["discontinuation"] == ("STOP-PERNICIOUS",)
    assert set(result.rules) <= set(RULES)


def test_it_orders_alerts_by_severity() -> None:
    result = evaluate(
        maint(
            "2025-07-01",
            labs=[("2025-05-20", "b12", 170), ("2025-05-20", "ferritin", 10)],
            pregnancy="pregnant",
            causes=[cause("bariatric_surgery", procedure="sleeve")],
        ),
        BUILTIN_PROFILES["monthly-cyanocobalamin"],
    )
    severities = [alert.severity for alert in result.alerts]
    assert severities == sorted(severities, key=["high", "medium", "info"].index)
    assert severities[0] == "high" and severities[-1] == "info"


def test_it_reads_no_analyte_outside_analytes_read() -> None:
    """The care-status loader skips other analytes; that must never change an evaluation."""
    from protocols.engine.facts import ANALYTES_READ
    from protocols.engine.units import ANALYTES

    every = [("2025-05-20", code, value) for code in ANALYTES for value in (1, 25, 500)]
    full = maint("2025-06-01", labs=every, causes=[cause("bariatric_surgery", procedure="sleeve")])
    read = dataclasses.replace(full, labs=tuple(lab for lab in full.labs if lab.analyte in ANALYTES_READ))
    profile = BUILTIN_PROFILES["monthly-cyanocobalamin"]
    assert evaluate(full, profile).to_dict() == evaluate(read, profile).to_dict()
    # ...and the check has teeth: dropping an analyte the engine does read changes the result.
    without_b12 = dataclasses.replace(full, labs=tuple(lab for lab in full.labs if lab.analyte != "b12"))
    assert evaluate(without_b12, profile).to_dict() != evaluate(full, profile).to_dict()
