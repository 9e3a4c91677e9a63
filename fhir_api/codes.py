"""The terminology of the FHIR API in one place: what each of the record's choices is called in
SNOMED CT, LOINC, UCUM and HL7's code systems. Pure data, no Django.

SNOMED CT codes were checked against published code lists; a cause without an exact SNOMED concept
of its own (ileal resection, a proton pump inhibitor, diet, "other") is coded as what the clinic
treats, vitamin B12 deficiency (190634004), with the cause as text, and the procedure or substance
behind it in Condition.evidence where one is coded. Review with a terminologist before relying on it.
"""

from __future__ import annotations

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"

B12_DEFICIENCY = ("190634004", "Vitamin B12 deficiency")

# Cause kind (patients.CauseKind): (the Condition's SNOMED code and display, or B12 deficiency when
# the cause has no concept of its own; the evidence's code and display, or None).
CAUSES: dict[str, tuple[tuple[str, str], tuple[str, str] | None]] = {
    "pernicious_anemia": (("84027009", "Pernicious anaemia"), None),
    "crohns_ileal": (("34000006", "Crohn's disease"), None),
    "ileal_resection": (B12_DEFICIENCY, None),
    "bariatric_surgery": (B12_DEFICIENCY, ("430715008", "Bariatric operative procedure")),
    "dietary": (B12_DEFICIENCY, None),
    "ppi": (B12_DEFICIENCY, None),
    "metformin": (B12_DEFICIENCY, ("372567009", "Metformin")),
    "other": (B12_DEFICIENCY, None),
}

# Injection drug (patients.Drug) to its SNOMED CT substance.
DRUGS: dict[str, tuple[str, str]] = {
    "cyanocobalamin": ("419382002", "Cyanocobalamin"),
    "hydroxocobalamin": ("409258004", "Hydroxocobalamin"),
}

# Injection route (patients.Route) to SNOMED CT's route of administration.
ROUTES: dict[str, tuple[str, str]] = {
    "im": ("78421000", "Intramuscular route"),
    "deep_sc": ("34206005", "Subcutaneous route"),
}

# Every unit the record accepts (protocols.engine.units) is written the same way in UCUM.
UCUM_UNITS: dict[str, str] = {
    unit: unit
    for unit in (
        "pg/mL",
        "ng/L",
        "pmol/L",
        "nmol/L",
        "umol/L",
        "ug/L",
        "ng/mL",
        "%",
        "g/L",
        "g/dL",
        "fL",
        "mmol/L",
        "mg/dL",
        "ug/dL",
    )
}
DOSE_UNIT = "ug"  # micrograms in UCUM

# LOINC codes for analytes the laboratory table (labs_in.loinc.DEFAULT) does not list.
EXTRA_LOINC: dict[str, list[tuple[str, str, bool]]] = {
    # analyte: [(code, display, molar)]
    "calcium": [("17861-6", "Calcium [Mass/volume] in Serum or Plasma", False)],
}

GENDERS = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}


def is_molar(unit: str) -> bool:
    return "mol/" in unit
