"""Lab analytes, the units each may be entered in, and exact conversion to one canonical unit.

Pure Python: used by the Django models (to store the canonical value beside the entered one) and by
the engine's case parser. Factors are those of GUIDANCE.md ("Units and categories"); conversions are
done in Decimal so that a value entered exactly at a threshold stays exactly at it.

Two conversions, because categories compare the *exact* value and rounding is for display only:
- `to_canonical_exact` is what the engine must read (LabFact.value). It is exact whenever the
  conversion terminates (every factor but a division by 0.7378, 2.266, 4.008 or 28.645 does), and
  otherwise correct to 50 significant digits, so no value entered with fewer than ~40 decimal places
  can land on the wrong side of a threshold (132.80399 pmol/L stays below 180 pg/mL).
- `to_canonical` is that value rounded to 4 decimal places, for storage (LabResult.value_canonical,
  a DecimalField with decimal_places=4) and display. A caller that loads facts from the database
  recomputes the exact value from what was entered: `to_canonical_exact(analyte, value_entered,
  unit_entered)`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

# Canonical values are stored to this many decimal places (DecimalField decimal_places=4).
CANONICAL_QUANTUM = Decimal("0.0001")
# Significant digits of an exact conversion that does not terminate (see the module docstring).
EXACT_DIGITS = 50


@dataclass(frozen=True)
class Unit:
    symbol: str
    multiply: Decimal = Decimal(1)  # canonical = value * multiply / divide
    divide: Decimal = Decimal(1)


@dataclass(frozen=True)
class Analyte:
    code: str
    label: str
    canonical: str
    units: tuple[Unit, ...]

    @property
    def unit_symbols(self) -> tuple[str, ...]:
        return tuple(u.symbol for u in self.units)


def _u(symbol: str, multiply: str = "1", divide: str = "1") -> Unit:
    return Unit(symbol, Decimal(multiply), Decimal(divide))


# Order matters for display: the canonical unit first.
ANALYTES: dict[str, Analyte] = {
    a.code: a
    for a in (
        # pmol/L = pg/mL x 0.7378  =>  pg/mL = pmol/L / 0.7378
        Analyte("b12", "Vitamin B12", "pg/mL", (_u("pg/mL"), _u("ng/L"), _u("pmol/L", divide="0.7378"))),
        Analyte("mma", "Methylmalonic acid (MMA)", "nmol/L", (_u("nmol/L"), _u("umol/L", multiply="1000"))),
        Analyte("homocysteine", "Homocysteine", "umol/L", (_u("umol/L"),)),
        Analyte("ferritin", "Ferritin", "ug/L", (_u("ug/L"), _u("ng/mL"))),
        Analyte("transferrin_saturation", "Transferrin saturation", "%", (_u("%"),)),
        # ng/mL = nmol/L / 2.266 ; ug/L = ng/mL
        Analyte("folate", "Folate", "ng/mL", (_u("ng/mL"), _u("ug/L"), _u("nmol/L", divide="2.266"))),
        # nmol/L = ng/mL x 2.496
        Analyte("vitamin_d", "Vitamin D (25-OH)", "nmol/L", (_u("nmol/L"), _u("ng/mL", multiply="2.496"))),
        Analyte("hemoglobin", "Hemoglobin", "g/L", (_u("g/L"), _u("g/dL", multiply="10"))),
        Analyte("mcv", "Mean corpuscular volume (MCV)", "fL", (_u("fL"),)),
        Analyte("thiamine", "Thiamine", "nmol/L", (_u("nmol/L"),)),
        # Not in GUIDANCE.md (the engine only tracks when these were drawn); factors from molar masses:
        # calcium 40.08 g/mol -> 1 mmol/L = 4.008 mg/dL; retinol 286.45 g/mol -> 1 umol/L = 28.645 ug/dL.
        Analyte("calcium", "Calcium", "mmol/L", (_u("mmol/L"), _u("mg/dL", divide="4.008"))),
        Analyte("vitamin_a", "Vitamin A (retinol)", "umol/L", (_u("umol/L"), _u("ug/dL", divide="28.645"))),
    )
}

ANALYTE_CHOICES: list[tuple[str, str]] = [(a.code, a.label) for a in ANALYTES.values()]
ALL_UNIT_SYMBOLS: list[str] = sorted({u.symbol for a in ANALYTES.values() for u in a.units})


class UnitError(ValueError):
    """A value, unit or analyte that cannot be accepted. `field` names which part is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalise_unit(unit: str) -> str:
    """'µmol/L', 'μmol/l' and ' umol/L ' all become 'umol/L' (when that is a known spelling)."""
    text = unit.strip().replace("\u00b5", "u").replace("\u03bc", "u")
    for symbol in ALL_UNIT_SYMBOLS:
        if symbol.lower() == text.lower():
            return symbol
    return text


def analyte(code: str) -> Analyte:
    try:
        return ANALYTES[code]
    except KeyError:
        known = ", ".join(ANALYTES)
        raise UnitError("analyte", f"{code!r} is not a known analyte; use one of {known}") from None


@functools.lru_cache(maxsize=512)
def unit_for(analyte_code: str, unit: str) -> Unit:
    """The analyte's unit spelled `unit` (remembered: loading a clinic's facts asks this of every lab
    row, and there are only a few dozen spellings)."""
    found = analyte(analyte_code)
    symbol = normalise_unit(unit)
    for candidate in found.units:
        if candidate.symbol == symbol:
            return candidate
    allowed = " or ".join(found.unit_symbols) if len(found.units) <= 2 else ", ".join(found.unit_symbols)
    raise UnitError("unit", f"{unit!r} is not a unit for {analyte_code}; use {allowed}")


def written(value: object) -> str:
    """A value as it was written, for messages: 20.5 and Decimal('20.0') read `20.5` and `20.0`, text
    keeps its quotes ('95'), JSON's literals read true, false and null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return repr(value)


def parse_value(value: object, *, what: str = "a lab value") -> Decimal:
    """A non-negative finite number (int, float, Decimal or numeric string) as Decimal."""
    if isinstance(value, bool) or value is None:
        raise UnitError("value", f"{written(value)} is not a number")
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise UnitError("value", f"{written(value)} is not a number") from None
    if not number.is_finite():
        raise UnitError("value", f"{written(value)} is not a finite number")
    if number < 0:
        raise UnitError("value", f"{written(value)} is negative; {what} cannot be below 0")
    return number


def to_canonical_exact(analyte_code: str, value: object, unit: str) -> Decimal:
    """The value in the analyte's canonical unit, unrounded: what categories and targets compare."""
    number = parse_value(value)
    found = unit_for(analyte_code, unit)
    if found.multiply == 1 and found.divide == 1:
        return number
    with localcontext() as context:
        context.prec = EXACT_DIGITS
        return +(number * found.multiply / found.divide)


def round_for_storage(value: Decimal) -> Decimal:
    """A canonical value to the 4 decimal places the database keeps (display and storage only)."""
    return value.quantize(CANONICAL_QUANTUM)


def to_canonical(analyte_code: str, value: object, unit: str) -> Decimal:
    """The value in the analyte's canonical unit to 4 decimal places: for storage and display, never
    for a category (use `to_canonical_exact`)."""
    return round_for_storage(to_canonical_exact(analyte_code, value, unit))


def canonical_unit(analyte_code: str) -> str:
    return analyte(analyte_code).canonical
