"""LOINC codes to analytes: the built-in table, extended (or re-mapped) by LoincCode rows."""

from __future__ import annotations

from labs_in.models import LoincCode

# code: (analyte, what LOINC calls it)
DEFAULT: dict[str, tuple[str, str]] = {
    "2132-9": ("b12", "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma"),
    "14685-2": ("b12", "Cobalamin (Vitamin B12) [Moles/volume] in Serum or Plasma"),
    "13964-2": ("mma", "Methylmalonate [Moles/volume] in Serum or Plasma"),
    "13965-9": ("homocysteine", "Homocysteine [Moles/volume] in Serum or Plasma"),
    "2276-4": ("ferritin", "Ferritin [Mass/volume] in Serum or Plasma"),
    "2502-3": ("transferrin_saturation", "Iron saturation [Mass Fraction] in Serum or Plasma"),
    "2284-8": ("folate", "Folate [Mass/volume] in Serum or Plasma"),
    "14732-2": ("folate", "Folate [Moles/volume] in Serum or Plasma"),
    "62292-8": ("vitamin_d", "25-Hydroxyvitamin D2+D3 [Mass/volume] in Serum or Plasma"),
    "1989-3": ("vitamin_d", "25-Hydroxyvitamin D3 [Mass/volume] in Serum or Plasma"),
    "14635-7": ("vitamin_d", "25-Hydroxyvitamin D3 [Moles/volume] in Serum or Plasma"),
    "718-7": ("hemoglobin", "Hemoglobin [Mass/volume] in Blood"),
    "787-2": ("mcv", "MCV [Entitic volume] by Automated count"),
}


def analyte_for(code: str) -> str | None:
    """The analyte of a LOINC code, the clinic's table first; None when unknown."""
    row = LoincCode.objects.filter(code=code.strip()).first()
    if row is not None:
        return row.analyte
    default = DEFAULT.get(code.strip())
    return default[0] if default else None
