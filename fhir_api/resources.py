"""The record as FHIR R4 resources, built and validated with fhir.resources (its R4B models, the
R4-compatible ones): every builder returns a validated model, so nothing invalid leaves the API.

Resource ids: a Patient is its database id; the others are prefixed by kind ("lab-12",
"injection-7", "cause-3", "alert-5", "careplan-<patient id>"). Entries entered in error are kept,
marked `entered-in-error` (a receiver that already took them learns they are void), never dropped.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.resource import Resource

from care.models import CareAlert, CareStatus, RecheckLab
from fhir_api import codes
from labs_in import loinc
from patients.models import Cause, Injection, LabResult, Patient
from protocols.engine import units


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _subject(patient: Patient | int) -> dict[str, str]:
    return {"reference": f"Patient/{patient if isinstance(patient, int) else patient.pk}"}


def _number(value: Decimal) -> Decimal:
    """A decimal as written, without the storage's trailing zeros (350.0000 -> 350)."""
    normalised = value.normalize()
    return normalised.quantize(Decimal(1)) if normalised == normalised.to_integral() else normalised


def mrn_system() -> str:
    return settings.FHIR_MRN_SYSTEM


def patient_resource(patient: Patient) -> FhirPatient:
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [_coding(codes.IDENTIFIER_TYPE, "MR", "Medical record number")]},
                "system": mrn_system(),
                "value": patient.mrn,
            }
        ],
        "active": patient.is_active,
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": codes.GENDERS.get(patient.sex, "unknown"),
        "birthDate": patient.birth_date.isoformat(),
        "managingOrganization": {"display": patient.clinic.name},
    }
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone, "use": "home"})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email, "use": "home"})
    if telecom:
        data["telecom"] = telecom
    if patient.discharge_reason == "deceased":
        data["deceasedBoolean"] = True
    return FhirPatient.model_validate(data)


def condition_resource(cause: Cause) -> Condition:
    (code, display), evidence = codes.CAUSES.get(cause.kind, codes.CAUSES["other"])
    text = cause.get_kind_display()
    details = []
    if cause.procedure:
        details.append(cause.get_procedure_display())
    if cause.length_cm:
        details.append(f"{cause.length_cm} cm")
    if details:
        text = f"{text} ({', '.join(details)})"
    data: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"cause-{cause.pk}",
        "clinicalStatus": {
            "coding": [
                _coding(codes.CONDITION_CLINICAL, "resolved", "Resolved")
                if cause.stop
                else _coding(codes.CONDITION_CLINICAL, "active", "Active")
            ]
        },
        "verificationStatus": {"coding": [_coding(codes.CONDITION_VERIFICATION, "confirmed", "Confirmed")]},
        "category": [{"coding": [_coding(codes.CONDITION_CATEGORY, "problem-list-item", "Problem List Item")]}],
        "code": {"coding": [_coding(codes.SNOMED, code, display)], "text": f"Cause of B12 deficiency: {text}"},
        "subject": _subject(cause.patient_id),
        "recordedDate": cause.recorded_at.isoformat(),
    }
    if evidence is not None:
        data["evidence"] = [{"code": [{"coding": [_coding(codes.SNOMED, *evidence)], "text": text}]}]
    if cause.start:
        data["onsetDateTime"] = cause.start.isoformat()
    if cause.stop:
        data["abatementDateTime"] = cause.stop.isoformat()
    if cause.note:
        data["note"] = [{"text": cause.note}]
    return Condition.model_validate(data)


def medication_administration_resource(injection: Injection) -> MedicationAdministration:
    drug_code, drug_display = codes.DRUGS[injection.drug]
    route_code, route_display = codes.ROUTES[injection.route]
    dosage: dict[str, Any] = {
        "route": {"coding": [_coding(codes.SNOMED, route_code, route_display)], "text": injection.get_route_display()},
        "dose": {"value": injection.dose_mcg, "unit": "microgram", "system": codes.UCUM, "code": codes.DOSE_UNIT},
    }
    if injection.site:
        dosage["site"] = {"text": injection.get_site_display()}
    data: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": f"injection-{injection.pk}",
        "status": "entered-in-error" if injection.voided_at else "completed",
        "medicationCodeableConcept": {
            "coding": [_coding(codes.SNOMED, drug_code, drug_display)],
            "text": f"{injection.get_drug_display()} injection",
        },
        "subject": _subject(injection.patient_id),
        "effectiveDateTime": injection.given_at.isoformat(),
        "dosage": dosage,
    }
    performer = injection.given_by_name or injection.given_by.get_full_name() or injection.given_by.get_username()
    data["performer"] = [{"actor": {"display": performer}}]
    notes = []
    if injection.lot_number:
        expiry = f", expires {injection.lot_expiry:%Y-%m-%d}" if injection.lot_expiry else ""
        notes.append(f"Lot {injection.lot_number}{expiry}")
    if injection.notes:
        notes.append(injection.notes)
    if injection.voided_at:
        data["statusReason"] = [{"text": f"Entered in error: {injection.void_reason}"}]
    if notes:
        data["note"] = [{"text": note} for note in notes]
    return MedicationAdministration.model_validate(data)


def loinc_for(analyte: str, unit: str) -> tuple[str, str] | None:
    """The LOINC code of `analyte` measured in `unit` (molar units take the [Moles/volume] code); None
    when the table has none of that kind."""
    candidates = [
        (code, name, "[Moles/" in name)
        for code, (code_analyte, name) in loinc.DEFAULT.items()
        if code_analyte == analyte
    ]
    candidates += codes.EXTRA_LOINC.get(analyte, [])
    for code, name, molar in candidates:
        if molar == codes.is_molar(unit):
            return code, name
    return None


def observation_resource(lab: LabResult) -> Observation:
    coded = loinc_for(lab.analyte, lab.unit_entered)
    code: dict[str, Any] = {"text": units.analyte(lab.analyte).label}
    if coded is not None:
        code["coding"] = [_coding(codes.LOINC, *coded)]
    unit = codes.UCUM_UNITS.get(lab.unit_entered)
    quantity: dict[str, Any] = {"value": _number(lab.value_entered), "unit": lab.unit_entered}
    if unit is not None:
        quantity |= {"system": codes.UCUM, "code": unit}
    data: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"lab-{lab.pk}",
        "status": "entered-in-error" if lab.voided_at else "final",
        "category": [{"coding": [_coding(codes.OBSERVATION_CATEGORY, "laboratory", "Laboratory")]}],
        "code": code,
        "subject": _subject(lab.patient_id),
        "effectiveDateTime": lab.collected_on.isoformat(),
        "issued": lab.entered_at.isoformat(),
        "valueQuantity": quantity,
    }
    notes = []
    if lab.unit_canonical != lab.unit_entered:
        notes.append(f"In the clinic's unit: {_number(lab.value_canonical)} {lab.unit_canonical}")
    if lab.notes:
        notes.append(lab.notes)
    if lab.voided_at:
        notes.append(f"Entered in error: {lab.void_reason}")
    if notes:
        data["note"] = [{"text": note} for note in notes]
    return Observation.model_validate(data)


def _activity(text: str, when: datetime.date | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"code": {"text": text}, "status": "scheduled" if when else "not-started"}
    if when:
        detail["scheduledPeriod"] = {"start": when.isoformat()}
    return {"detail": detail}


def care_plan_resource(status: CareStatus, *, patient: Patient) -> CarePlan:
    """The next injection and recheck of an active patient's care status (a discharged patient has none)."""
    names = dict(RecheckLab.choices)
    labs = ", ".join(str(names.get(code, code)) for code in status.recheck_labs or []) or "B12"
    data: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": f"careplan-{patient.pk}",
        "status": "active",
        "intent": "plan",
        "title": "Vitamin B12 replacement",
        "description": f"{status.get_phase_display()}; {status.get_verdict_display()} (as of {status.as_of:%Y-%m-%d}).",
        "subject": _subject(patient),
        "created": status.evaluated_at.isoformat(),
        "activity": [
            _activity("Next B12 injection", status.next_injection_due),
            _activity(f"Recheck: {labs}", status.next_recheck_due),
        ],
    }
    return CarePlan.model_validate(data)


def flag_resource(alert: CareAlert) -> Flag:
    data = {
        "resourceType": "Flag",
        "id": f"alert-{alert.pk}",
        "status": "active",
        "category": [{"coding": [_coding(codes.FLAG_CATEGORY, "clinical", "Clinical")]}],
        "code": {"text": alert.message},
        "subject": _subject(alert.patient_id),
        "period": {"start": alert.since.isoformat()},
    }
    return Flag.model_validate(data)


def everything(patient: Patient) -> list[Resource]:
    """The patient and everything of theirs the API shares, in one list (the patient first)."""
    found: list[Resource] = [patient_resource(patient)]
    found += [condition_resource(cause) for cause in patient.causes.all()]
    found += [
        medication_administration_resource(injection)
        for injection in patient.injections.select_related("given_by").order_by("given_at", "pk")
    ]
    found += [observation_resource(lab) for lab in patient.labs.order_by("collected_on", "pk")]
    status = CareStatus.objects.filter(patient=patient).first()
    if status is not None and patient.is_active:
        found.append(care_plan_resource(status, patient=patient))
    found += [flag_resource(alert) for alert in patient.care_alerts.all()]
    return found


def searchset(resources: list[Resource], *, base: str, self_url: str) -> Bundle:
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(resources),
            "link": [{"relation": "self", "url": self_url}],
            "entry": [
                {
                    "fullUrl": f"{base}{resource.get_resource_type()}/{resource.id}",
                    "resource": resource,
                    "search": {"mode": "match" if index == 0 else "include"},
                }
                for index, resource in enumerate(resources)
            ],
        }
    )


def operation_outcome(text: str, *, code: str = "processing", severity: str = "error") -> OperationOutcome:
    return OperationOutcome.model_validate(
        {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code, "diagnostics": text}]}
    )


def to_json(resource: Resource) -> str:
    return resource.model_dump_json(exclude_none=True)
