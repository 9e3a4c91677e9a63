"""The rules of GUIDANCE.md by id: plain-language text and the source each comes from.

The engine names these ids wherever a rule shaped a result; the patient chart shows this text so a
physician can see *why*. A test checks that this catalogue and GUIDANCE.md list the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_SOURCE = "recheck-and-discontinuation.txt"
SECOND_SOURCE = "after-loading-next-step.txt"
CLINIC_POLICY = "GUIDANCE.md (clinic policy)"


@dataclass(frozen=True)
class Rule:
    id: str
    text: str
    source: str


_RULES = (
    # Schedule
    Rule(
        "SCHED-LOAD",
        "Loading: the first doses are given 7 days apart; with no injection yet, the first dose is due now.",
        f"{FIRST_SOURCE}; {SECOND_SOURCE}",
    ),
    Rule(
        "SCHED-MAINT",
        "Maintenance: once the loading doses are given, the next injection is due one maintenance interval (calendar months) after the last.",
        f"{FIRST_SOURCE}; {SECOND_SOURCE}",
    ),
    Rule(
        "SCHED-OVERRIDE",
        "A physician set this patient's maintenance interval (in months, or in days: 3 to 90); it wins over the profile.",
        CLINIC_POLICY,
    ),
    Rule(
        "SCHED-ILEAL",
        "Ileal resection over 20 cm: maintenance injections monthly for life, in every profile.",
        SECOND_SOURCE,
    ),
    Rule(
        "SCHED-NEURO-INTERVAL",
        "Neurological involvement on 3-monthly hydroxocobalamin: injections every 2 months instead.",
        SECOND_SOURCE,
    ),
    Rule("SCHED-ORAL", "Switched to oral therapy: no injection is due.", FIRST_SOURCE),
    # Monitoring
    Rule(
        "MON-FIRST-YEAR",
        "First year of maintenance: B12 rechecks at 3, 6 and 12 months after maintenance starts; a check counts as done from 14 days before it is due.",
        FIRST_SOURCE,
    ),
    Rule("MON-UNTIL-STABLE", "First B12 recheck 3 months after maintenance starts, then until stable.", SECOND_SOURCE),
    Rule(
        "MON-STABLE",
        "Stable when the two most recent B12 results are normal: recheck yearly; otherwise every 3 months.",
        f"{FIRST_SOURCE}; {SECOND_SOURCE}",
    ),
    Rule(
        "MON-HIGH-RISK",
        "Neurological involvement, symptoms despite a normal B12, or planning pregnancy after bariatric surgery: no more than 6 months between rechecks.",
        FIRST_SOURCE,
    ),
    Rule(
        "MON-BARIATRIC",
        "After bariatric surgery: no more than 6 months between rechecks, each with vitamin D, thiamine, calcium, folate and vitamin A.",
        FIRST_SOURCE,
    ),
    Rule(
        "MON-PREGNANCY-BARIATRIC",
        "Pregnant after bariatric surgery: a recheck every trimester (3 months) with the nutritional panel.",
        FIRST_SOURCE,
    ),
    Rule(
        "MON-OVERRIDE",
        "A physician set the date of the next recheck: it wins over the rules above, caps included, until a B12 is drawn from 14 days before it.",
        CLINIC_POLICY,
    ),
    Rule("MON-ORAL", "On oral therapy: a B12 recheck every 12 months to detect recurrence.", FIRST_SOURCE),
    Rule(
        "MON-FUNCTIONAL",
        "Borderline B12, or symptoms despite a normal B12: add MMA and homocysteine at the recheck.",
        FIRST_SOURCE,
    ),
    # Discontinuation
    Rule("STOP-PERNICIOUS", "Pernicious anemia: lifelong injections, whatever the B12 level.", FIRST_SOURCE),
    Rule("STOP-ILEAL", "Ileal resection over 20 cm: permanent malabsorption, lifelong injections.", FIRST_SOURCE),
    Rule("STOP-BARIATRIC", "Bariatric surgery makes permanent anatomical changes: lifelong treatment.", FIRST_SOURCE),
    Rule("STOP-CROHN", "Crohn's disease with over 30 cm of ileal involvement: ongoing treatment.", FIRST_SOURCE),
    Rule(
        "STOP-AGE",
        "Older than 75 with a documented deficiency: indefinite treatment (a clinic may turn this rule off).",
        FIRST_SOURCE,
    ),
    Rule(
        "STOP-DRUG",
        "A PPI or metformin taken for more than 4 months: treatment continues while the drug does.",
        FIRST_SOURCE,
    ),
    Rule("STOP-CAUSE-UNKNOWN", "No cause is recorded: treatment continues until one is.", CLINIC_POLICY),
    Rule(
        "STOP-OTHER-CAUSE",
        "A cause other than diet is recorded: whether injections can ever stop is the physician's call.",
        FIRST_SOURCE,
    ),
    Rule(
        "STOP-NOT-YET", "Diet is the only cause, but not every condition for an oral switch is met yet.", FIRST_SOURCE
    ),
    Rule(
        "STOP-DIETARY-ORAL",
        "Diet is the only cause, loading is done, B12 is normal and confirmed by MMA or homocysteine, intake is adequate and there are no neurological symptoms: a physician may switch to oral 1000-2000 mcg daily, with yearly monitoring.",
        f"{FIRST_SOURCE}; {SECOND_SOURCE}",
    ),
    # Alerts
    Rule(
        "ALERT-FOLIC-BEFORE-B12",
        "Folic acid started before the loading doses were complete: it can mask anemia while nerve damage progresses.",
        f"{FIRST_SOURCE}; {SECOND_SOURCE}",
    ),
    Rule(
        "ALERT-FOLIC-NO-DEFICIENCY",
        "Folic acid is active with no low folate result on record: add it only for documented folate deficiency.",
        FIRST_SOURCE,
    ),
    Rule("ALERT-B12-LOW", "The latest B12 since maintenance started is low: possible treatment failure.", FIRST_SOURCE),
    Rule("ALERT-B12-BORDERLINE", "The latest B12 is borderline: order MMA.", FIRST_SOURCE),
    Rule(
        "ALERT-FUNCTIONAL-DEFICIENCY",
        "The latest MMA or homocysteine is above target: functional deficiency despite the serum B12.",
        FIRST_SOURCE,
    ),
    Rule("ALERT-SYMPTOMS-NORMAL-B12", "Symptoms persist while the latest B12 is normal: check MMA.", FIRST_SOURCE),
    Rule(
        "ALERT-NEURO-PERSISTENT",
        "Neurological symptoms persist in maintenance: consider injections every 2 weeks or weekly (a physician decides).",
        FIRST_SOURCE,
    ),
    Rule(
        "ALERT-SYMPTOMS-RECURRED",
        "A symptom that had resolved is back: consider more frequent injections.",
        SECOND_SOURCE,
    ),
    Rule(
        "ALERT-IRON-DEFICIENCY",
        "The latest ferritin or transferrin saturation is low: iron deficiency blunts the response.",
        FIRST_SOURCE,
    ),
    Rule("ALERT-VITAMIN-D-LOW", "After bariatric surgery, the latest vitamin D is below target.", FIRST_SOURCE),
    Rule("ALERT-INJECTION-OVERDUE", "The next injection is past its due date.", CLINIC_POLICY),
    Rule("ALERT-RECHECK-OVERDUE", "The next lab recheck is past its due date.", CLINIC_POLICY),
    Rule(
        "ALERT-PREGNANCY-BARIATRIC",
        "Pregnant after bariatric surgery: B12 each trimester with the nutritional panel.",
        FIRST_SOURCE,
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}

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
