"""The analytes behind each lab the engine asks to draw at a recheck (Evaluation.recheck_labs).

Pure Python, like the rest of the engine. `iron` is ferritin and transferrin saturation, `cbc` the
hemoglobin and MCV the guidance reads, `bariatric_panel` the post-bariatric micronutrients. A lab to
draw is done when every analyte behind it is drawn (or recorded as not drawn).
"""

from __future__ import annotations

from protocols.engine.units import ANALYTES

RECHECK_LAB_ANALYTES: dict[str, tuple[str, ...]] = {
    "b12": ("b12",),
    "cbc": ("hemoglobin", "mcv"),
    "iron": ("ferritin", "transferrin_saturation"),
    "mma": ("mma",),
    "homocysteine": ("homocysteine",),
    "bariatric_panel": ("vitamin_d", "thiamine", "calcium", "folate", "vitamin_a"),
}

assert all(code in ANALYTES for codes in RECHECK_LAB_ANALYTES.values() for code in codes)


def analytes_to_draw(recheck_labs: list[str] | tuple[str, ...]) -> list[str]:
    """The analytes behind `recheck_labs`, each once, in the order above (B12 first)."""
    wanted = {code for lab in recheck_labs for code in RECHECK_LAB_ANALYTES.get(lab, (lab,))}
    order = [code for codes in RECHECK_LAB_ANALYTES.values() for code in codes]
    return [code for code in order if code in wanted] + [
        code for code in ANALYTES if code in wanted and code not in order
    ]
