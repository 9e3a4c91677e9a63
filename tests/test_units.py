"""Every unit of every analyte converts to the canonical unit exactly (GUIDANCE.md factors), both in
units.to_canonical and in what lab_result_record stores."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clinic import actions
from protocols.engine import units

# (analyte, value entered, unit entered, canonical value, canonical unit)
CONVERSIONS = [
    ("b12", "453", "pg/mL", "453.0000", "pg/mL"),
    ("b12", "453", "ng/L", "453.0000", "pg/mL"),
    ("b12", "453", "pmol/L", "613.9875", "pg/mL"),
    ("b12", "132.804", "pmol/L", "180.0000", "pg/mL"),
    ("b12", "258.23", "pmol/L", "350.0000", "pg/mL"),
    ("mma", "271", "nmol/L", "271.0000", "nmol/L"),
    ("mma", "0.271", "umol/L", "271.0000", "nmol/L"),
    ("mma", "0.271", "µmol/L", "271.0000", "nmol/L"),
    ("homocysteine", "10", "umol/L", "10.0000", "umol/L"),
    ("homocysteine", "10", "μmol/l", "10.0000", "umol/L"),
    ("ferritin", "30", "ug/L", "30.0000", "ug/L"),
    ("ferritin", "30", "ng/mL", "30.0000", "ug/L"),
    ("ferritin", "30", "µg/L", "30.0000", "ug/L"),
    ("transferrin_saturation", "20", "%", "20.0000", "%"),
    ("folate", "3", "ng/mL", "3.0000", "ng/mL"),
    ("folate", "3", "ug/L", "3.0000", "ng/mL"),
    ("folate", "6.798", "nmol/L", "3.0000", "ng/mL"),
    ("folate", "10", "nmol/L", "4.4131", "ng/mL"),
    ("vitamin_d", "75", "nmol/L", "75.0000", "nmol/L"),
    ("vitamin_d", "30", "ng/mL", "74.8800", "nmol/L"),
    ("hemoglobin", "132", "g/L", "132.0000", "g/L"),
    ("hemoglobin", "13.2", "g/dL", "132.0000", "g/L"),
    ("mcv", "98", "fL", "98.0000", "fL"),
    ("thiamine", "120", "nmol/L", "120.0000", "nmol/L"),
    ("calcium", "2.4", "mmol/L", "2.4000", "mmol/L"),
    ("calcium", "9.6", "mg/dL", "2.3952", "mmol/L"),
    ("vitamin_a", "1.5", "umol/L", "1.5000", "umol/L"),
    ("vitamin_a", "42.9675", "ug/dL", "1.5000", "umol/L"),
]


def test_it_covers_every_unit_of_every_analyte() -> None:
    covered = {(analyte, units.normalise_unit(unit)) for analyte, _, unit, _, _ in CONVERSIONS}
    expected = {(code, unit.symbol) for code, analyte in units.ANALYTES.items() for unit in analyte.units}
    assert covered == expected


@pytest.mark.parametrize(("analyte", "value", "unit", "canonical", "canonical_unit"), CONVERSIONS)
def test_it_converts_exactly(analyte: str, value: str, unit: str, canonical: str, canonical_unit: str) -> None:
    assert units.to_canonical(analyte, value, unit) == Decimal(canonical)
    assert str(units.to_canonical(analyte, value, unit)) == canonical
    assert units.canonical_unit(analyte) == canonical_unit


@pytest.mark.django_db
@pytest.mark.parametrize(("analyte", "value", "unit", "canonical", "canonical_unit"), CONVERSIONS)
def test_it_stores_the_entered_and_canonical_value(
    patient, nurse, today, analyte: str, value: str, unit: str, canonical: str, canonical_unit: str
) -> None:
    lab = actions.lab_result_record(
        patient=patient, analyte=analyte, value=value, unit=unit, collected_on=today, entered_by=nurse, today=today
    )
    lab.refresh_from_db()
    assert lab.value_entered == Decimal(value)
    assert lab.unit_entered == units.normalise_unit(unit)
    assert (lab.value_canonical, lab.unit_canonical) == (Decimal(canonical), canonical_unit)
