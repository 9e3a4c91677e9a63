"""FHIR in, the parsing half: a posted transaction or batch Bundle of Observations read into the
plain values labs_in receives (hl7in.Oru, one Observation each), or the reason an entry is refused.
No database: fhir_api.actions.observations_receive records them.

The patient of an Observation is its `subject`: a contained Patient (`"#p1"`), a Patient entry of the
same Bundle (by its fullUrl), or a logical reference (`subject.identifier`, which carries no birth
date, so the result is queued). The record number is the Patient's identifier of FHIR_MRN_SYSTEM, else
the one typed MR, else the first; matching is labs_in's (record number AND birth date, never blank).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from fhir_api import codes
from labs_in import hl7in

SENDER = "FHIR"  # ReceivedMessage.sending_application of results posted here
CONTROL_ID_MAX, SYSTEM_MAX = 64, 100  # ReceivedMessage.control_id, .sending_facility
STATUSES = {"final": "F", "amended": "C", "corrected": "C"}  # to HL7's OBX-11 as labs_in checks it


class BundleRefused(ValueError):
    """The body is not a Bundle we take: the answer is one OperationOutcome (400)."""


@dataclass(frozen=True)
class Entry:
    index: int
    kind: str  # "observation", "patient" (a referenced subject), "refused"
    status: str = ""  # for refused: "400 Bad Request" ...
    problem: str = ""
    received: hl7in.Oru | None = None
    raw: str = ""


@dataclass(frozen=True)
class Posted:
    type: str  # "transaction" or "batch"
    entries: list[Entry] = field(default_factory=list)

    @property
    def refused(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.kind == "refused"]


def _problem(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(resource)'}: {e['msg']}" for e in error.errors()[:5])


def _date(value: Any) -> datetime.date | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _record_number(patient: Patient, mrn_system: str) -> str:
    identifiers = [i for i in patient.identifier or [] if i.value and i.value.strip()]
    for identifier in identifiers:
        if identifier.system == mrn_system:
            return identifier.value.strip()
    for identifier in identifiers:
        if identifier.type and any(c.code == "MR" for c in identifier.type.coding or []):
            return identifier.value.strip()
    return identifiers[0].value.strip() if identifiers else ""


def _subject(observation: Observation, patients: dict[str, Patient]) -> Patient | None:
    subject = observation.subject
    if subject is None:
        return None
    if subject.reference and subject.reference.startswith("#"):
        contained = {r.id: r for r in observation.contained or [] if r.get_resource_type() == "Patient"}
        return contained.get(subject.reference[1:])
    if subject.reference:
        return patients.get(subject.reference)
    if subject.identifier is not None and subject.identifier.value:
        return Patient.model_validate(
            {"resourceType": "Patient", "identifier": [subject.identifier.model_dump(mode="json", exclude_none=True)]}
        )
    return None


def _code(observation: Observation) -> tuple[str, str]:
    codings = observation.code.coding or []
    for coding in codings:
        if coding.system == codes.LOINC and coding.code:
            return coding.code.strip(), coding.display or observation.code.text or ""
    text = observation.code.text or next((c.display or c.code or "" for c in codings), "")
    return "", text


def _value(observation: Observation) -> tuple[str, str]:
    quantity = observation.valueQuantity
    if quantity is not None:
        value = "" if quantity.value is None else format(quantity.value, "f")
        unit = (
            quantity.code if quantity.system == codes.UCUM and quantity.code else (quantity.unit or quantity.code or "")
        )
        return value, unit
    if observation.valueString is not None:
        return observation.valueString.strip(), ""
    return "", ""


def _observed(observation: Observation) -> datetime.date | None:
    if observation.effectiveDateTime is not None:
        return _date(observation.effectiveDateTime)
    if observation.effectivePeriod is not None:
        return _date(observation.effectivePeriod.start)
    return None


def _reference_range(observation: Observation) -> str:
    for reference in observation.referenceRange or []:
        if reference.text:
            return reference.text[:64]
        low = reference.low.value if reference.low else None
        high = reference.high.value if reference.high else None
        if low is not None or high is not None:
            return f"{low if low is not None else ''}-{high if high is not None else ''}"[:64]
    return ""


def received(observation: Observation, patient: Patient | None, *, index: int, mrn_system: str) -> hl7in.Oru:
    """One Observation (and the Patient it names, if found) as the values labs_in receives."""
    identifier = next(i for i in observation.identifier or [] if i.value)
    code, code_text = _code(observation)
    value, unit = _value(observation)
    name = (patient.name or [None])[0] if patient is not None else None
    gender = (patient.gender or "") if patient is not None else ""
    return hl7in.Oru(
        control_id=identifier.value.strip(),
        sending_application=SENDER,
        sending_facility=identifier.system or "",
        sent_at="",
        mrn=_record_number(patient, mrn_system) if patient is not None else "",
        birth_date=_date(patient.birthDate) if patient is not None else None,
        family_name=(name.family or "")[:100] if name else "",
        given_name=" ".join(name.given or [])[:100] if name else "",
        sex={"female": "F", "male": "M", "other": "O", "unknown": "U"}.get(gender, ""),
        observations=(
            hl7in.Observation(
                set_id=str(index + 1),
                code=code[:32],
                code_text=code_text[:200],
                code_system=codes.LOINC if code else "",
                value=value[:64],
                unit=unit[:32],
                reference_range=_reference_range(observation),
                abnormal_flag="",
                status=STATUSES.get(observation.status, observation.status),
                observed_on=_observed(observation),
            ),
        ),
    )


def parse(body: bytes, *, mrn_system: str) -> Posted:
    try:
        bundle = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleRefused(f"The body is not JSON: {error}") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BundleRefused("Post a Bundle (resourceType Bundle) of Observations.")
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise BundleRefused(f"Bundle.type must be transaction or batch, not {kind!r}.")
    raw_entries = bundle.get("entry") or []
    if not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
        raise BundleRefused("Bundle.entry must be a list of entries.")
    patients: dict[str, Patient] = {}
    for entry in raw_entries:
        resource = entry.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") == "Patient" and entry.get("fullUrl"):
            try:
                patients[entry["fullUrl"]] = Patient.model_validate(resource)
            except ValidationError:
                pass  # refused below, as its own entry
    entries = []
    for index, entry in enumerate(raw_entries):
        resource = entry.get("resource")
        kind_of = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind_of == "Patient":
            try:
                Patient.model_validate(resource)
            except ValidationError as error:
                entries.append(Entry(index, "refused", "400 Bad Request", f"Not a valid Patient: {_problem(error)}"))
            else:
                entries.append(Entry(index, "patient"))
            continue
        if kind_of != "Observation":
            entries.append(
                Entry(
                    index,
                    "refused",
                    "422 Unprocessable Entity",
                    "Only Observations (and the Patients they name) are received here.",
                )
            )
            continue
        method = (entry.get("request") or {}).get("method", "POST")
        if method != "POST":
            entries.append(
                Entry(index, "refused", "405 Method Not Allowed", f"Observations are created (POST), not {method}.")
            )
            continue
        try:
            observation = Observation.model_validate(resource)
        except ValidationError as error:
            entries.append(Entry(index, "refused", "400 Bad Request", f"Not a valid Observation: {_problem(error)}"))
            continue
        identifier = next((i for i in observation.identifier or [] if i.value and i.value.strip()), None)
        if identifier is None:
            problem = (
                "Observation.identifier (system and value) is required: the same result sent twice must be recognised."
            )
            entries.append(Entry(index, "refused", "422 Unprocessable Entity", problem))
            continue
        if len(identifier.value.strip()) > CONTROL_ID_MAX or len(identifier.system or "") > SYSTEM_MAX:
            problem = f"Observation.identifier: value at most {CONTROL_ID_MAX} characters, system at most {SYSTEM_MAX}."
            entries.append(Entry(index, "refused", "422 Unprocessable Entity", problem))
            continue
        oru = received(observation, _subject(observation, patients), index=index, mrn_system=mrn_system)
        entries.append(
            Entry(index, "observation", received=oru, raw=json.dumps(resource, indent=2, ensure_ascii=False))
        )
    return Posted(type=kind, entries=entries)
