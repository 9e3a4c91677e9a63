"""Every write of the lab interface: receiving a message, and the queue's match and reject. Lab results
are recorded through clinic.actions.lab_result_record, so the plausibility checks, the care status and
the reminders follow as for a result typed on the chart; whatever those checks would refuse or ask
about is queued with the reason instead, never saved unasked."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.clinics import clinics_of
from accounts.models import Clinic
from clinic import actions
from labs_in import hl7in, loinc
from labs_in.models import ReceivedMessage, ReceivedResult, ResultStatus
from patients.access import require
from patients.models import LabResult, Patient
from patients.plausibility import NeedsConfirmation
from protocols.engine import units

log = logging.getLogger(__name__)

ADD_LABRESULT = "patients.add_labresult"
FINAL_STATUSES = {"F", "C", ""}  # OBX-11: final, corrected, or not given


@dataclass(frozen=True)
class Fields:
    """Where a message keeps what the reasons of the queue name, so they point at the right place."""

    mrn: str = "PID-3"
    birth_date: str = "PID-7"
    status: str = "OBX-11"
    observed: str = "OBX-14 or OBR-7"


HL7_FIELDS = Fields()


@dataclass(frozen=True)
class Receipt:
    """What a message got: its ACK (text and code); `duplicate` when its control id was seen before."""

    ack: str
    code: str
    duplicate: bool = False
    message: ReceivedMessage | None = None


def interface_user() -> AbstractBaseUser:
    """The account results received from the laboratory are entered by: it cannot log in."""
    user, created = get_user_model().objects.get_or_create(
        username=settings.LAB_INTERFACE_USERNAME, defaults={"is_active": False, "first_name": "Lab interface"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _ack_id() -> str:
    return uuid.uuid4().hex[:20].upper()


def _served(clinic: Clinic | None) -> Iterable[Clinic]:
    return [clinic] if clinic is not None else Clinic.objects.all()


def _existing(oru: hl7in.Oru) -> ReceivedMessage | None:
    return ReceivedMessage.objects.filter(
        sending_application=oru.sending_application,
        sending_facility=oru.sending_facility,
        control_id=oru.control_id,
    ).first()


def _errors(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)


def _patient_problem(
    oru: hl7in.Oru, clinics: Iterable[Clinic], fields: Fields = HL7_FIELDS
) -> tuple[Patient | None, str]:
    """The patient of the record number AND the birth date, in the clinics served; never on a blank."""
    if not oru.mrn:
        return None, f"No record number ({fields.mrn}): a result is never matched on a blank field."
    if oru.birth_date is None:
        return None, f"No readable birth date ({fields.birth_date}): a result is never matched on a blank field."
    patient = Patient.objects.filter(mrn=oru.mrn, birth_date=oru.birth_date, clinic__in=clinics).first()
    if patient is None:
        return None, f"Unknown patient: no patient with record number {oru.mrn} born {oru.birth_date:%Y-%m-%d} here."
    return patient, ""


def _record(
    result: ReceivedResult, *, patient: Patient, by: AbstractBaseUser, confirmed: Collection[str] = ()
) -> LabResult:
    """Record `result` for `patient` in a savepoint; ValidationError (NeedsConfirmation included) leaves nothing."""
    message = result.message
    notes = f"Received from the laboratory ({message.sending_application or 'HL7'} message {message.control_id})."
    with transaction.atomic():
        return actions.lab_result_record(
            patient=patient,
            analyte=result.analyte,
            value=result.value,
            unit=result.unit,
            collected_on=result.observed_on,
            entered_by=by,
            notes=notes,
            confirmed=confirmed,
        )


def _result_problem(result: ReceivedResult, observation: hl7in.Observation, fields: Fields = HL7_FIELDS) -> str:
    if observation.status not in FINAL_STATUSES:
        return f"Not a final result ({fields.status} is {observation.status})."
    if not result.analyte:
        return f"Unknown LOINC code {observation.code or '(blank)'} ({observation.code_text or 'no name'})."
    try:
        units.unit_for(result.analyte, result.unit)
    except units.UnitError as error:
        return f"Unknown unit: {error.message}."
    if result.observed_on is None:
        return f"No observation date ({fields.observed})."
    return ""


def _receive(
    oru: hl7in.Oru,
    raw: str,
    *,
    clinic: Clinic | None,
    clinics: Iterable[Clinic],
    by: AbstractBaseUser,
    via: str,
    answer: Callable[[str, str], str],
    fields: Fields = HL7_FIELDS,
) -> Receipt:
    with transaction.atomic():
        message = ReceivedMessage.objects.create(
            control_id=oru.control_id,
            sending_application=oru.sending_application,
            sending_facility=oru.sending_facility,
            clinic=clinic,
            raw=raw,
            received_at=timezone.now(),
            received_by=via,
            ack_code="",
            ack="",
        )
    patient, patient_problem = _patient_problem(oru, clinics, fields)
    reasons = []
    for observation in oru.observations:
        result = ReceivedResult(
            message=message,
            set_id=observation.set_id,
            mrn=oru.mrn,
            birth_date=oru.birth_date,
            family_name=oru.family_name,
            given_name=oru.given_name,
            sex=oru.sex,
            code=observation.code,
            code_text=observation.code_text,
            analyte=loinc.analyte_for(observation.code) or "",
            value=observation.value,
            unit=observation.unit,
            reference_range=observation.reference_range,
            observed_on=observation.observed_on,
        )
        reason = _result_problem(result, observation, fields) or patient_problem
        if not reason and patient is not None:
            try:
                result.lab = _record(result, patient=patient, by=by)
            except NeedsConfirmation as error:
                reason = f"Needs confirmation: {_errors(error)}"
            except ValidationError as error:
                reason = f"Refused: {_errors(error)}"
        if result.lab is not None:
            result.patient, result.status = patient, ResultStatus.RECORDED
        else:
            result.status, result.reason = ResultStatus.PENDING, reason
            reasons.append(f"OBX {observation.set_id or len(reasons) + 1}: {reason}")
        result.save()
    code = "AE" if reasons else "AA"
    message.ack_code = code
    message.ack = answer(code, " ".join(reasons))
    message.save(update_fields=["ack_code", "ack"])
    return Receipt(ack=message.ack, code=code, message=message)


def _receive_once(oru: hl7in.Oru, raw: str, **receive: Any) -> Receipt:
    """`_receive`, unless the same sender's control id was received before: then nothing is recorded
    and the first answer is given again."""
    existing = _existing(oru)
    if existing is None:
        try:
            with transaction.atomic():
                return _receive(oru, raw, **receive)
        except IntegrityError:
            existing = _existing(oru)  # the same message, received at once by another connection
            if existing is None:
                raise
    log.info("Message %s received again: nothing recorded", oru.control_id)
    return Receipt(ack=existing.ack, code=existing.ack_code, duplicate=True, message=existing)


def message_receive(*, text: str, clinic: Clinic | None = None, via: str = "file") -> Receipt:
    """Receive one ORU^R01 (framed or not): parse, match, record or queue each OBX, and say what
    happened in an ACK: AA all recorded, AE some queued (the reasons in MSA-3 and ERR), AR unreadable
    (nothing kept). The same sender's control id again records nothing and gets the first ACK."""
    try:
        oru = hl7in.parse(text)
    except hl7in.Unparseable as error:
        log.warning("HL7 message rejected (AR): %s", error)
        return Receipt(ack=hl7in.ack(text, "AR", str(error), control_id=_ack_id()), code="AR")
    ack_id = _ack_id()
    return _receive_once(
        oru,
        hl7in.normalise(text),
        clinic=clinic,
        clinics=_served(clinic),
        by=interface_user(),
        via=via,
        answer=lambda code, reasons: hl7in.ack(text, code, reasons, control_id=ack_id),
    )


def results_receive(
    *, received: hl7in.Oru, raw: str, clinic: Clinic | None, by: AbstractBaseUser, via: str, fields: Fields
) -> Receipt:
    """Results that came another way than HL7 v2 (a FHIR Observation: fhir_api), as plain values:
    the same matching (record number AND birth date, among `by`'s clinics, never on a blank), the
    same LOINC table, units and checks, the same queue, and the same "once per sender's id". `raw`
    is the source kept (the posted resource); `clinic` is whose queue an unmatched result joins
    (None: every clinic's). The answer (`Receipt.ack`) is the reasons, or "" when all is recorded."""
    require(by, ADD_LABRESULT)
    return _receive_once(
        received,
        raw,
        clinic=clinic,
        clinics=clinics_of(by),
        by=by,
        via=via,
        answer=lambda code, reasons: reasons,
        fields=fields,
    )


# The queue -----------------------------------------------------------------------------------------


def _pending(result: ReceivedResult) -> ReceivedResult:
    locked = ReceivedResult.objects.select_for_update().select_related("message").get(pk=result.pk)
    if locked.status != ResultStatus.PENDING:
        raise ValidationError({"__all__": f"This result is no longer pending ({locked.get_status_display()})."})
    return locked


@transaction.atomic
def received_result_match(
    *,
    result: ReceivedResult,
    patient: Patient,
    by: AbstractBaseUser,
    analyte: str | None = None,
    unit: str | None = None,
    confirmed: Collection[str] = (),
) -> ReceivedResult:
    """Record a queued result for `patient` (one of `by`'s clinics) through the same checks as any
    entry: a refusal or an unconfirmed warning raises and leaves the result pending."""
    require(by, ADD_LABRESULT)
    if not clinics_of(by).filter(pk=patient.clinic_id).exists():
        raise PermissionDenied("This patient is not in one of your clinics.")
    result = _pending(result)
    if analyte is not None:
        result.analyte = analyte
    if unit is not None:
        result.unit = unit
    if not result.analyte:
        raise ValidationError({"analyte": "Say which analyte this result is."})
    if result.observed_on is None:
        raise ValidationError({"__all__": "The message gives no observation date; record it on the chart instead."})
    result.lab = _record(result, patient=patient, by=by, confirmed=confirmed)
    result.patient, result.status = patient, ResultStatus.MATCHED
    result.decided_by, result.decided_at = by, timezone.now()
    result.save()
    return result


@transaction.atomic
def received_result_reject(*, result: ReceivedResult, by: AbstractBaseUser, reason: str) -> ReceivedResult:
    require(by, ADD_LABRESULT)
    if not reason.strip():
        raise ValidationError({"reason": "Say why this result is rejected."})
    result = _pending(result)
    result.status, result.reject_reason = ResultStatus.REJECTED, reason.strip()
    result.decided_by, result.decided_at = by, timezone.now()
    result.save()
    return result


def serving_clinic(slug: str | None = None) -> Clinic | None:
    """The clinic the interface serves: `slug`, else settings.HL7_CLINIC; None (every clinic) when blank.
    An unknown slug is an error at start, not a silent "every clinic"."""
    slug = settings.HL7_CLINIC if slug is None else slug
    if not slug:
        return None
    try:
        return Clinic.objects.get(slug=slug)
    except Clinic.DoesNotExist:
        raise ValueError(f"No clinic {slug!r} (HL7_CLINIC or --clinic).") from None
