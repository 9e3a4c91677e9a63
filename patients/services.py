"""Every write to the clinical record (HackSoft-style services).

Each service takes keyword-only arguments, runs in one transaction, validates with full_clean()
before saving and raises ValidationError({field: message}) naming its own argument, so bad input
changes nothing. Actions only physicians may take check the acting user's permission here, on the
server, whatever the caller. These services write the record and nothing else: the application layer
(clinic.actions) wraps each in an action that then refreshes the care status and the reminders, so
pages, the admin and commands call the actions, never these directly. Time is passed in (`today`,
`now`) so tests and the demo seed can fix it.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts import roles
from accounts.clinics import clinics_of, only_clinic
from accounts.models import Clinic
from patients import plausibility
from patients.models import (
    Cause,
    DischargeReason,
    Injection,
    LabNotDrawn,
    LabResult,
    Medication,
    Patient,
    PlausibilityRange,
    Regimen,
    SymptomCheck,
)
from protocols.engine import units
from protocols.engine.profiles import DEFAULT_PROFILE_SLUG
from protocols.models import ProtocolProfile

FUTURE_DATE = "This date is in the future."
CLINIC_REQUIRED = "Choose the clinic the patient belongs to."
FUTURE_TIME = "This time is in the future."

PATIENT_EDITABLE_FIELDS = frozenset(
    {
        "mrn",
        "given_name",
        "family_name",
        "birth_date",
        "sex",
        "email",
        "phone",
        "neurological_involvement",
        "pregnancy",
        "dietary_intake_adequate",
    }
)
# What a nurse may change on the patient's details page; the clinical flags are a physician's.
PATIENT_CONTACT_FIELDS = frozenset({"email", "phone", "email_reminders_consent"})
PATIENT_CLINICAL_FIELDS = frozenset({"neurological_involvement", "pregnancy", "dietary_intake_adequate"})
CAUSE_EDITABLE_FIELDS = frozenset({"length_cm", "procedure", "start", "stop", "note"})
INJECTION_EDITABLE_FIELDS = frozenset(
    {"given_at", "drug", "dose_mcg", "route", "site", "lot_number", "lot_expiry", "notes"}
)


# Helpers -------------------------------------------------------------------------------------------


def _require(user: AbstractBaseUser, permission: str, action: str) -> None:
    if not user.has_perm(permission):
        raise PermissionDenied(f"{user} may not {action}: that takes the permission {permission}.")


def _is_future_date(value: object, today: datetime.date) -> bool:
    # A value that is not a date yet has already been refused by full_clean.
    return isinstance(value, datetime.date) and not isinstance(value, datetime.datetime) and value > today


def _validate(
    instance: models.Model,
    *,
    extra: Mapping[str, str | None] | None = None,
    rename: Mapping[str, str] | None = None,
    force: Collection[str] = (),
) -> None:
    """full_clean() plus the service's own checks; one ValidationError naming the service's arguments.

    `extra` maps a model field to a message (None: no problem); it is only reported when the field
    passed full_clean, unless the field is in `force` (the value full_clean saw was a placeholder).
    `rename` maps model field names to the service's argument names.
    """
    errors: dict[str, list[str]] = {}
    try:
        instance.full_clean()
    except ValidationError as error:
        errors.update(error.message_dict)
    for field, message in (extra or {}).items():
        if message and (field not in errors or field in force):
            errors[field] = [message]
    if errors:
        rename = rename or {}
        _refuse(instance, {rename.get(field, field): messages for field, messages in errors.items()})


def _refuse(instance: models.Model, errors: Mapping[str, Any]) -> None:
    """Raise ValidationError(errors), first undoing the refused changes on a saved instance so that the
    caller's object matches the database again."""
    if instance.pk is not None:
        instance.refresh_from_db()
    raise ValidationError(dict(errors))


def _save(instance: models.Model, *, by: AbstractBaseUser | None, reason: str | None = None) -> None:
    # Outside a request (seed, Celery, shell) HistoryRequestMiddleware knows no user: name it here.
    if by is not None:
        instance._history_user = by  # type: ignore[attr-defined]
    if reason:
        instance._change_reason = reason  # type: ignore[attr-defined]
    instance.save()


def _apply(instance: models.Model, data: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"Cannot change {', '.join(sorted(unknown))} of {type(instance).__name__} here.")
    for field, value in data.items():
        setattr(instance, field, value)


# Patients ------------------------------------------------------------------------------------------


def _birth_date_problem(birth_date: object, today: datetime.date) -> str | None:
    return "The birth date cannot be in the future." if _is_future_date(birth_date, today) else None


def _email_problem(patient: Patient) -> str | None:
    if patient.email_reminders_consent and not patient.email:
        return "Give an email address to send reminders to."
    return None


def new_patient(
    *, clinic: Clinic, mrn: str, given_name: str, family_name: str, email: str, phone: str, **fields: Any
) -> Patient:
    """The unsaved Patient of patient_create and of the register import's bulk (patients.bulk), its
    typed text trimmed; checked and saved by the caller."""
    return Patient(
        clinic=clinic,
        mrn=mrn.strip(),
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        email=email.strip(),
        phone=phone.strip(),
        **fields,
    )


@transaction.atomic
def patient_create(
    *,
    mrn: str,
    given_name: str,
    family_name: str,
    birth_date: datetime.date,
    sex: str,
    email: str = "",
    phone: str = "",
    email_reminders_consent: bool = False,
    neurological_involvement: bool = False,
    pregnancy: str = Patient.Pregnancy.NONE,
    dietary_intake_adequate: str = Patient.DietaryIntake.UNKNOWN,
    profile: ProtocolProfile | None = None,
    clinic: Clinic | None = None,
    by: AbstractBaseUser | None = None,
    today: datetime.date | None = None,
    reason: str | None = None,
) -> Patient:
    """A new patient of `clinic` with a regimen on `profile` (default: the clinic's default profile).
    `clinic` may be left out only where there is exactly one clinic; `by`, when given, must be on its
    staff (clinics_of). `reason` goes in the history (e.g. registered although a patient of the same
    name and birth date exists)."""
    today = today or timezone.localdate()
    clinic = clinic or only_clinic()
    if clinic is None:
        raise ValidationError({"clinic": CLINIC_REQUIRED})
    if by is not None and not clinics_of(by).filter(pk=clinic.pk).exists():
        raise ValidationError({"clinic": f"You are not on the staff of {clinic.name}."})
    patient = new_patient(
        clinic=clinic,
        mrn=mrn,
        given_name=given_name,
        family_name=family_name,
        birth_date=birth_date,
        sex=sex,
        email=email,
        phone=phone,
        email_reminders_consent=email_reminders_consent,
        neurological_involvement=neurological_involvement,
        pregnancy=pregnancy,
        dietary_intake_adequate=dietary_intake_adequate,
    )
    _validate(
        patient,
        extra={"birth_date": _birth_date_problem(birth_date, today), "email": _email_problem(patient)},
    )
    if profile is None:
        profile = ProtocolProfile.objects.get(slug=DEFAULT_PROFILE_SLUG)
    elif not profile.is_active:
        raise ValidationError({"profile": f"The profile {profile.name} is not in use any more."})
    _save(patient, by=by, reason=reason)
    _save(Regimen(patient=patient, profile=profile), by=by)
    return patient


@transaction.atomic
def patient_update(
    *,
    patient: Patient,
    data: Mapping[str, Any],
    by: AbstractBaseUser | None = None,
    today: datetime.date | None = None,
) -> Patient:
    """Change the fields named in `data` (only PATIENT_EDITABLE_FIELDS)."""
    today = today or timezone.localdate()
    _apply(patient, data, PATIENT_EDITABLE_FIELDS)
    _validate(
        patient,
        extra={"birth_date": _birth_date_problem(patient.birth_date, today), "email": _email_problem(patient)},
    )
    _save(patient, by=by)
    return patient


@transaction.atomic
def patient_set_email_consent(
    *,
    patient: Patient,
    consent: bool,
    by: AbstractBaseUser | None = None,
    now: datetime.datetime | None = None,
    reason: str | None = None,
) -> Patient:
    """Give or withdraw consent to email reminders; withdrawing records when (the opt-out time).
    `reason` goes in the history (e.g. the patient opted out with a reminder's link)."""
    patient.email_reminders_consent = consent
    patient.email_opt_out_at = None if consent else (now or timezone.now())
    _validate(patient, extra={"email": _email_problem(patient)})
    _save(patient, by=by, reason=reason)
    return patient


@transaction.atomic
def patient_discharge(
    *,
    patient: Patient,
    by: AbstractBaseUser | None = None,
    now: datetime.datetime | None = None,
    reason: str = DischargeReason.OTHER,
    note: str = "",
) -> Patient:
    """Discharge a patient, with why (`reason`, one of DischargeReason, and a free `note`); the
    record stays, searchable, and the history keeps every discharge and re-admission."""
    if not patient.is_active:
        raise ValidationError({"patient": f"{patient.full_name} was already discharged."})
    if reason not in DischargeReason.values:
        choices = ", ".join(str(label) for label in DischargeReason.labels)
        raise ValidationError({"reason": f"Choose why the patient is discharged: {choices}."})
    patient.is_active = False
    patient.discharged_at = now or timezone.now()
    patient.discharge_reason = reason
    patient.discharge_note = (note or "").strip()
    _validate(patient, rename={"discharge_reason": "reason", "discharge_note": "note"})
    _save(patient, by=by, reason=f"Discharged: {patient.get_discharge_reason_display()}")
    return patient


@transaction.atomic
def patient_readmit(
    *,
    patient: Patient,
    reason: str,
    by: AbstractBaseUser | None = None,
) -> Patient:
    """Take a discharged patient back into care; `reason` goes in the history, which also keeps the
    discharge it ends."""
    if patient.is_active:
        raise ValidationError({"patient": f"{patient.full_name} is in care: there is nothing to re-admit."})
    text = (reason or "").strip()
    if not text:
        raise ValidationError({"reason": "Say why the patient is re-admitted."})
    patient.is_active = True
    patient.discharged_at = None
    patient.discharge_reason = ""
    patient.discharge_note = ""
    _validate(patient)
    _save(patient, by=by, reason=f"Re-admitted: {text}")
    return patient


@transaction.atomic
def patient_transfer(*, patient: Patient, clinic: Clinic, reason: str, by: AbstractBaseUser) -> Patient:
    """Move the patient to `clinic` (its staff see the patient from now on, the old clinic's no longer),
    with `reason` in the history. `by` needs the transfer permission (physicians and clinic admins)
    and both clinics among the clinics they may see, or is a superuser."""
    _require(by, roles.TRANSFER_PATIENT, "transfer a patient")
    text = (reason or "").strip()
    visible = clinics_of(by)
    if not visible.filter(pk=patient.clinic_id).exists():
        raise PermissionDenied(f"{by} is not on the staff of the patient's clinic.")
    errors: dict[str, str] = {}
    if clinic is None or clinic.pk == patient.clinic_id:
        errors["clinic"] = "Choose another clinic than the patient's own."
    elif not visible.filter(pk=clinic.pk).exists():
        errors["clinic"] = f"You are not on the staff of {clinic.name}: its staff take the patient over."
    if not text:
        errors["reason"] = "Say why the patient moves to another clinic."
    if errors:
        raise ValidationError(errors)
    old = patient.clinic
    patient.clinic = clinic
    _validate(patient)
    _save(patient, by=by, reason=f"Transferred from {old.name} to {clinic.name}: {text}")
    return patient


@transaction.atomic
def patient_update_contact(
    *,
    patient: Patient,
    email: str,
    phone: str,
    email_reminders_consent: bool,
    by: AbstractBaseUser | None = None,
    now: datetime.datetime | None = None,
) -> Patient:
    """The patient's contact details and consent to email reminders (a nurse's page). Withdrawing
    consent records when, as an opt-out does; giving it clears the opt-out."""
    if email_reminders_consent != patient.email_reminders_consent:
        patient.email_opt_out_at = None if email_reminders_consent else (now or timezone.now())
    patient.email = (email or "").strip()
    patient.phone = (phone or "").strip()
    patient.email_reminders_consent = email_reminders_consent
    _validate(patient, extra={"email": _email_problem(patient)})
    _save(patient, by=by, reason="Contact details changed")
    return patient


@transaction.atomic
def patient_set_clinical_flags(
    *,
    patient: Patient,
    neurological_involvement: bool,
    pregnancy: str,
    dietary_intake_adequate: str,
    reason: str,
    by: AbstractBaseUser,
) -> Patient:
    """What the protocol reads about the patient beyond the causes: a physician's change, with a
    reason kept in the history."""
    _require(by, roles.MAKE_DECISION, "change the patient's clinical details")
    text = (reason or "").strip()
    if not text:
        raise ValidationError({"reason": "Say why: the reason is kept in the history."})
    patient.neurological_involvement = neurological_involvement
    patient.pregnancy = pregnancy
    patient.dietary_intake_adequate = dietary_intake_adequate
    _validate(patient)
    _save(patient, by=by, reason=text)
    return patient


# Causes --------------------------------------------------------------------------------------------


def _cause_date_problem(cause: Cause, today: datetime.date) -> str | None:
    return "A cause cannot start in the future." if _is_future_date(cause.start, today) else None


@transaction.atomic
def cause_add(
    *,
    patient: Patient,
    kind: str,
    by: AbstractBaseUser,
    length_cm: int | None = None,
    procedure: str = "",
    start: datetime.date | None = None,
    stop: datetime.date | None = None,
    note: str = "",
    today: datetime.date | None = None,
    reason: str | None = None,
) -> Cause:
    """Record a cause; `reason` (why it is recorded now, e.g. the referral letter) goes in the history."""
    _require(by, roles.ADD_CAUSE, "record a cause of deficiency")
    today = today or timezone.localdate()
    cause = Cause(
        patient=patient,
        kind=kind,
        length_cm=length_cm,
        procedure=procedure,
        start=start,
        stop=stop,
        note=note.strip(),
    )
    _validate(cause, extra={"start": _cause_date_problem(cause, today)})
    _save(cause, by=by, reason=(reason or "").strip() or None)
    return cause


@transaction.atomic
def cause_update(
    *,
    cause: Cause,
    data: Mapping[str, Any],
    by: AbstractBaseUser,
    today: datetime.date | None = None,
    reason: str | None = None,
) -> Cause:
    """Change a cause's details (e.g. the date a PPI was stopped); the kind itself never changes."""
    _require(by, roles.CHANGE_CAUSE, "change a cause of deficiency")
    today = today or timezone.localdate()
    _apply(cause, data, CAUSE_EDITABLE_FIELDS)
    _validate(cause, extra={"start": _cause_date_problem(cause, today)})
    _save(cause, by=by, reason=(reason or "").strip() or None)
    return cause


@transaction.atomic
def cause_remove(*, cause: Cause, by: AbstractBaseUser, reason: str = "") -> None:
    _require(by, roles.DELETE_CAUSE, "remove a cause of deficiency")
    cause._history_user = by  # type: ignore[attr-defined]
    cause._change_reason = reason or None  # type: ignore[attr-defined]
    cause.delete()


# Regimen -------------------------------------------------------------------------------------------


@transaction.atomic
def regimen_set_profile(
    *, regimen: Regimen, profile: ProtocolProfile, by: AbstractBaseUser, reason: str | None = None
) -> Regimen:
    _require(by, roles.CHANGE_REGIMEN, "change a regimen's protocol profile")
    if not profile.is_active:
        raise ValidationError({"profile": f"The profile {profile.name} is not in use any more."})
    regimen.profile = profile
    _validate(regimen)
    _save(regimen, by=by, reason=(reason or "").strip() or None)
    return regimen


@transaction.atomic
def regimen_set_interval_override(
    *,
    regimen: Regimen,
    months: int | None = None,
    days: int | None = None,
    reason: str,
    by: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> Regimen:
    """SCHED-OVERRIDE: a physician sets the maintenance interval, in months (1 to 12) or in days (3 to
    90: weekly, two-weekly ...); it wins over the profile's."""
    _require(by, roles.MAKE_DECISION, "set a maintenance interval")
    if (months is None) == (days is None):
        field = "days" if days is not None else "months"
        raise ValidationError({field: "Give the interval in months (1 to 12) or in days (3 to 90), not both."})
    regimen.maintenance_interval_months = months
    regimen.maintenance_interval_days = days
    regimen.interval_reason = reason.strip()
    regimen.interval_set_by = by
    regimen.interval_set_at = now or timezone.now()
    _validate(
        regimen,
        rename={
            "maintenance_interval_months": "months",
            "maintenance_interval_days": "days",
            "interval_reason": "reason",
        },
    )
    _save(regimen, by=by, reason=regimen.interval_reason)
    return regimen


@transaction.atomic
def regimen_clear_interval_override(*, regimen: Regimen, by: AbstractBaseUser) -> Regimen:
    """Back to the interval the protocol suggests; the history keeps the old override and its reason."""
    _require(by, roles.MAKE_DECISION, "clear a maintenance interval")
    regimen.maintenance_interval_months = None
    regimen.maintenance_interval_days = None
    regimen.interval_reason = ""
    regimen.interval_set_by = None
    regimen.interval_set_at = None
    _validate(regimen)
    _save(regimen, by=by)
    return regimen


RECHECK_IN_THE_PAST = "The recheck date cannot be in the past."
RECHECK_TOO_FAR = "Set a recheck at most two years ahead."


@transaction.atomic
def regimen_set_recheck_date(
    *,
    regimen: Regimen,
    on: datetime.date,
    reason: str,
    by: AbstractBaseUser,
    now: datetime.datetime | None = None,
    today: datetime.date | None = None,
) -> Regimen:
    """MON-OVERRIDE: a physician sets the date of the next recheck; it wins until a B12 is dated within
    the recheck window before it, then the rules apply again."""
    _require(by, roles.MAKE_DECISION, "set a recheck date")
    today = today or timezone.localdate()
    regimen.recheck_on = on
    regimen.recheck_reason = reason.strip()
    regimen.recheck_set_by = by
    regimen.recheck_set_at = now or timezone.now()
    problem = None
    if isinstance(on, datetime.date) and on < today:
        problem = RECHECK_IN_THE_PAST
    elif isinstance(on, datetime.date) and on > today + datetime.timedelta(days=731):
        problem = RECHECK_TOO_FAR
    _validate(regimen, extra={"recheck_on": problem}, rename={"recheck_on": "on", "recheck_reason": "reason"})
    _save(regimen, by=by, reason=regimen.recheck_reason)
    return regimen


@transaction.atomic
def regimen_clear_recheck_date(*, regimen: Regimen, by: AbstractBaseUser) -> Regimen:
    """Back to the recheck the rules give; the history keeps the old date and its reason."""
    _require(by, roles.MAKE_DECISION, "clear a recheck date")
    regimen.recheck_on = None
    regimen.recheck_reason = ""
    regimen.recheck_set_by = None
    regimen.recheck_set_at = None
    _validate(regimen)
    _save(regimen, by=by)
    return regimen


@transaction.atomic
def regimen_switch_to_oral(
    *,
    regimen: Regimen,
    since: datetime.date,
    by: AbstractBaseUser,
    dose_mcg: int | None = None,
    today: datetime.date | None = None,
) -> Regimen:
    """SCHED-ORAL: injections stop being due from `since`, with the daily oral dose (1000 to 2000
    mcg); a physician's decision."""
    _require(by, roles.MAKE_DECISION, "switch a patient to oral therapy")
    today = today or timezone.localdate()
    if regimen.oral_since is not None:
        raise ValidationError(
            {"since": f"Already on oral therapy since {regimen.oral_since.day} {regimen.oral_since:%b %Y}."}
        )
    regimen.oral_since = since
    regimen.oral_dose_mcg = dose_mcg
    _validate(
        regimen,
        extra={"oral_since": FUTURE_DATE if _is_future_date(since, today) else None},
        rename={"oral_since": "since", "oral_dose_mcg": "dose_mcg"},
    )
    _save(regimen, by=by)
    return regimen


@transaction.atomic
def regimen_resume_injections(*, regimen: Regimen, by: AbstractBaseUser) -> Regimen:
    """Back from oral therapy to injections: the injection schedule applies again from the last dose."""
    _require(by, roles.MAKE_DECISION, "resume injections")
    if regimen.oral_since is None:
        raise ValidationError({"regimen": "The patient is not on oral therapy."})
    regimen.oral_since = None
    regimen.oral_dose_mcg = None
    _validate(regimen)
    _save(regimen, by=by)
    return regimen


# Plausibility and confirmations --------------------------------------------------------------------

ENTERED_IN_ERROR = "This entry was marked entered in error; it cannot be changed any more."
NOTHING_CHANGED = "Change at least one field (or leave the entry as it is)."


def user_label(user: AbstractBaseUser | None) -> str:
    """How a user is named in warnings and confirmations: the full name, else the login."""
    if user is None:
        return "someone"
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def _reason_text(reason: str, *, what: str) -> tuple[str, str | None]:
    text = (reason or "").strip()
    if not text:
        return text, f"Say why the {what}."
    return text, plausibility.text_problem(text)


def _whole_number(value: object) -> tuple[object, str | None]:
    """A dose as typed (text: ASCII digits only) or passed (an int)."""
    problem = plausibility.number_problem(value)
    if problem:
        return value, problem
    if isinstance(value, str):
        if "." in value:
            return value, "Give the dose in whole mcg."
        return int(value), None
    return value, None


def _confirm(
    instance: Injection | LabResult,
    warnings: Iterable[plausibility.SoftWarning | None],
    confirmed: Collection[str],
    *,
    by: AbstractBaseUser,
    now: datetime.datetime,
) -> None:
    """Raise NeedsConfirmation (nothing saved, the instance reloaded) unless every warning that applies
    was confirmed; otherwise add the confirmations, with who and when, to the entry."""
    applying = [w for w in warnings if w is not None]
    if plausibility.unconfirmed(applying, confirmed):
        if instance.pk is not None:
            instance.refresh_from_db()
        raise plausibility.NeedsConfirmation(applying)
    if applying:
        instance.confirmed_warnings = [
            *instance.confirmed_warnings,
            *plausibility.confirmation_records(applying, by=user_label(by), by_id=by.pk, at=now),
        ]


def _refuse_voided(instance: Injection | LabResult) -> None:
    if instance.voided_at is not None:
        raise ValidationError({NON_FIELD_ERRORS: ENTERED_IN_ERROR})


def _lock(patient: Patient) -> None:
    """Entries of one patient are checked against each other (duplicates, order): one at a time."""
    Patient.objects.select_for_update().filter(pk=patient.pk).exists()


# Injections ----------------------------------------------------------------------------------------


def _injection_problems(injection: Injection, now: datetime.datetime) -> dict[str, str | None]:
    given_at = injection.given_at
    future = isinstance(given_at, datetime.datetime) and given_at > now
    return {
        "patient": None if injection.patient.is_active else "The patient has been discharged.",
        "given_at": FUTURE_TIME if future else None,
    }


def _injection_warnings(
    injection: Injection, *, entered_at: datetime.datetime, changed: Collection[str] | None
) -> list[plausibility.SoftWarning | None]:
    """The soft warnings of a new injection (`changed` None) or of the fields a correction changes.
    `entered_at`: when the entry was first recorded (a correction does not make it back-dated)."""
    twin: tuple[datetime.datetime, str] | None = None
    latest = None
    if changed is None or "given_at" in changed:
        given_at = injection.given_at
        others = Injection.objects.filter(patient_id=injection.patient_id, voided_at__isnull=True).exclude(
            pk=injection.pk
        )
        window = datetime.timedelta(hours=plausibility.DUPLICATE_HOURS)
        found = (
            others.filter(given_at__gt=given_at - window, given_at__lt=given_at + window)
            .select_related("given_by")
            .order_by("-given_at")
            .first()
        )
        twin = (found.given_at, user_label(found.given_by)) if found is not None else None
        latest = others.order_by("-given_at").values_list("given_at", flat=True).first()
    return injection_soft_warnings(injection, entered_at=entered_at, changed=changed, twin=twin, latest=latest)


def injection_soft_warnings(
    injection: Injection,
    *,
    entered_at: datetime.datetime,
    changed: Collection[str] | None,
    twin: tuple[datetime.datetime, str] | None,
    latest: datetime.datetime | None,
) -> list[plausibility.SoftWarning | None]:
    """_injection_warnings without the database: `twin` is the latest other injection of the patient
    within DUPLICATE_HOURS (when, by whom), `latest` the patient's latest other injection."""
    warnings: list[plausibility.SoftWarning | None] = []
    if changed is None or "dose_mcg" in changed:
        profile = injection.patient.regimen.profile
        warnings.append(
            plausibility.dose_warning(injection.dose_mcg, profile_dose=profile.dose_mcg, profile_name=profile.name)
        )
    if changed is None or "given_at" in changed:
        given_at = injection.given_at
        if not injection.imported:  # imported history is dated in the past by nature
            warnings.append(plausibility.backdated_warning(given_at, now=entered_at))
        if twin is not None:
            warnings.append(plausibility.duplicate_injection_warning(twin[0], by=twin[1], new=given_at))
        if latest is not None and not plausibility.is_duplicate_time(latest, given_at):
            warnings.append(plausibility.before_previous_warning(given_at, latest=latest))
    return warnings


@transaction.atomic
def injection_record(
    *,
    patient: Patient,
    given_at: datetime.datetime,
    drug: str,
    dose_mcg: int | str,
    route: str,
    site: str,
    lot_number: str,
    lot_expiry: datetime.date | None,
    given_by: AbstractBaseUser,
    notes: str = "",
    now: datetime.datetime | None = None,
    submission_key: uuid.UUID | None = None,
    confirmed: Collection[str] = (),
    warnings: Iterable[plausibility.SoftWarning | None] = (),
    history: bool = False,
    given_by_name: str = "",
) -> Injection:
    """Record an injection. With `submission_key` (the form's one-time key) a resubmission returns the
    injection the first submission recorded instead of recording a second one.

    Hard limits (patients.plausibility) refuse; soft ones (a dose other than the profile's, a date more
    than a few days back or before the latest injection, another injection within a few hours, and
    the caller's own `warnings`, e.g. the care status's early-dose warning) raise NeedsConfirmation
    unless their codes are in `confirmed`; the confirmations are stored with the injection.

    `history`: an injection of the past brought in by the register import, recorded by `given_by` and
    given by `given_by_name`: the site, lot number and expiry may be blank, and the question about an
    entry dated in the past does not apply (every other check does)."""
    if submission_key is not None:
        already = Injection.objects.filter(submission_key=submission_key).first()
        if already is not None:
            return _same_submission(already, patient)
    now = now or timezone.now()
    _lock(patient)
    dose, dose_problem = _whole_number(dose_mcg)
    injection = Injection(
        patient=patient,
        submission_key=submission_key,
        given_at=given_at,
        drug=drug,
        dose_mcg=1 if dose_problem else dose,  # a placeholder: the other fields are still checked
        route=route,
        site=site,
        lot_number=lot_number.strip(),
        lot_expiry=lot_expiry,
        given_by=given_by,
        notes=notes.strip(),
        imported=history,
        given_by_name=given_by_name.strip(),
    )
    problems = _injection_problems(injection, now)
    _validate(injection, extra={**problems, "dose_mcg": dose_problem}, force=("dose_mcg",) if dose_problem else ())
    _confirm(
        injection,
        [*_injection_warnings(injection, entered_at=now, changed=None), *warnings],
        confirmed,
        by=given_by,
        now=now,
    )
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin loses the race on the unique key
            _save(injection, by=given_by)
    except IntegrityError:
        if submission_key is None:
            raise
        return _same_submission(Injection.objects.get(submission_key=submission_key), patient)
    return injection


def _same_submission(injection: Injection, patient: Patient) -> Injection:
    if injection.patient_id != patient.pk:
        raise ValidationError({"submission_key": "This form was already used for another patient."})
    return injection


@transaction.atomic
def injection_correct(
    *,
    injection: Injection,
    data: Mapping[str, Any],
    by: AbstractBaseUser,
    reason: str,
    now: datetime.datetime | None = None,
    confirmed: Collection[str] = (),
) -> Injection:
    """Correct a recorded injection (a typo in the dose, the date, the lot); the reason goes in the
    history, which keeps every version. The changed fields get the same checks as a new entry."""
    _require(by, roles.CHANGE_INJECTION, "correct an injection")
    _refuse_voided(injection)
    text, reason_problem = _reason_text(reason, what="record is corrected")
    now = now or timezone.now()
    data = dict(data)
    dose_problem = None
    if "dose_mcg" in data:
        data["dose_mcg"], dose_problem = _whole_number(data["dose_mcg"])
        if dose_problem:
            data["dose_mcg"] = injection.dose_mcg
    if "lot_number" in data:
        data["lot_number"] = str(data["lot_number"]).strip()
    if "notes" in data:
        data["notes"] = str(data["notes"] or "").strip()
    changed = {name for name, value in data.items() if getattr(injection, name) != value}
    _apply(injection, data, INJECTION_EDITABLE_FIELDS)
    problems: dict[str, str | None] = {**_injection_problems(injection, now), "patient": None}
    problems.update(dose_mcg=dose_problem, reason=reason_problem)
    _validate(injection, extra=problems, force=("dose_mcg", "reason"))
    if not changed:
        _refuse(injection, {NON_FIELD_ERRORS: NOTHING_CHANGED})
    _confirm(
        injection,
        _injection_warnings(injection, entered_at=injection.created_at, changed=changed),
        confirmed,
        by=by,
        now=now,
    )
    _save(injection, by=by, reason=text)
    return injection


@transaction.atomic
def injection_void(
    *, injection: Injection, by: AbstractBaseUser, reason: str, now: datetime.datetime | None = None
) -> Injection:
    """Mark an injection entered in error: it stays on the record (and in the chart, struck through)
    with who, when and why, and the engine no longer reads it. Nothing is ever deleted."""
    _require(by, roles.CHANGE_INJECTION, "mark an injection entered in error")
    _refuse_voided(injection)
    text, problem = _reason_text(reason, what="entry is marked entered in error")
    if problem:
        raise ValidationError({"reason": problem})
    injection.voided_at = now or timezone.now()
    injection.voided_by = by
    injection.void_reason = text
    _save(injection, by=by, reason=f"Entered in error: {text}")
    return injection


# Labs ----------------------------------------------------------------------------------------------

_LAB_RENAME = {"value_entered": "value", "unit_entered": "unit"}


def _set_lab_value(lab: LabResult, *, value: object, unit: str) -> dict[str, str]:
    """Put the parsed value and the unit's standard spelling on `lab`; the problems, by argument name."""
    problems: dict[str, str] = {}
    problem = plausibility.number_problem(value)
    if problem:
        problems["value"] = problem
    else:
        try:
            lab.value_entered = units.parse_value(value)
        except units.UnitError as error:
            problems[error.field] = error.message
    try:
        lab.unit_entered = units.unit_for(lab.analyte, unit).symbol
    except units.UnitError as error:
        problems[error.field] = error.message
    return problems


def _lab_validate(lab: LabResult, problems: dict[str, str], today: datetime.date) -> None:
    if problems:
        _refuse(lab, problems)
    _validate(
        lab,
        extra={"collected_on": FUTURE_DATE if _is_future_date(lab.collected_on, today) else None},
        rename=_LAB_RENAME,
    )


def usual_range(analyte: str) -> plausibility.Range:
    """The clinic's usual range of `analyte` (PlausibilityRange), else the default."""
    row = PlausibilityRange.objects.filter(analyte=analyte).first()
    return row.range if row is not None else plausibility.USUAL_RANGES[analyte]


def _lab_warnings(lab: LabResult) -> list[plausibility.SoftWarning | None]:
    canonical = units.to_canonical_exact(lab.analyte, lab.value_entered, lab.unit_entered)
    twin = (
        LabResult.objects.filter(
            patient_id=lab.patient_id,
            analyte=lab.analyte,
            collected_on=lab.collected_on,
            value_canonical=units.round_for_storage(canonical),
            voided_at__isnull=True,
        )
        .exclude(pk=lab.pk)
        .select_related("entered_by")
        .order_by("-entered_at")
        .first()
    )
    return lab_soft_warnings(
        lab,
        canonical=canonical,
        usual=usual_range(lab.analyte),
        twin=(twin, user_label(twin.entered_by)) if twin is not None else None,
    )


def lab_soft_warnings(
    lab: LabResult, *, canonical: Decimal, usual: plausibility.Range, twin: tuple[LabResult, str] | None
) -> list[plausibility.SoftWarning | None]:
    """_lab_warnings without the database: `twin` is the latest other result of the same analyte,
    day and canonical value (and who entered it)."""
    warnings = [plausibility.unusual_value_warning(lab.analyte, canonical, usual)]
    if twin is not None:
        found, by = twin
        warnings.append(
            plausibility.duplicate_lab_warning(
                label=found.get_analyte_display(),
                value=f"{found.value_entered.normalize():f} {found.unit_entered}",
                day=found.collected_on,
                entered_at=found.entered_at,
                by=by,
            )
        )
    return warnings


@transaction.atomic
def lab_result_record(
    *,
    patient: Patient,
    analyte: str,
    value: Decimal | int | float | str,
    unit: str,
    collected_on: datetime.date,
    entered_by: AbstractBaseUser,
    notes: str = "",
    today: datetime.date | None = None,
    now: datetime.datetime | None = None,
    confirmed: Collection[str] = (),
) -> LabResult:
    """Record a lab value as entered; the canonical value is computed (units.to_canonical). Hard
    limits refuse; a value outside the analyte's usual range or the same result already on record
    raise NeedsConfirmation unless confirmed (patients.plausibility)."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    _lock(patient)
    lab = LabResult(patient=patient, analyte=analyte, collected_on=collected_on, entered_by=entered_by, notes=notes)
    _lab_validate(lab, _set_lab_value(lab, value=value, unit=unit), today)
    _confirm(lab, _lab_warnings(lab), confirmed, by=entered_by, now=now)
    _save(lab, by=entered_by)
    return lab


@transaction.atomic
def lab_result_correct(
    *,
    lab: LabResult,
    value: Decimal | int | float | str,
    unit: str,
    by: AbstractBaseUser,
    reason: str,
    collected_on: datetime.date | None = None,
    today: datetime.date | None = None,
    now: datetime.datetime | None = None,
    confirmed: Collection[str] = (),
) -> LabResult:
    """Correct a mistyped value, unit or date; `entered_by` stays, the history names the corrector and
    keeps every version."""
    _require(by, roles.CHANGE_LABRESULT, "correct a lab result")
    _refuse_voided(lab)
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    before = (lab.value_entered, lab.unit_entered, lab.collected_on)
    problems = _set_lab_value(lab, value=value, unit=unit)
    text, reason_problem = _reason_text(reason, what="result is corrected")
    if reason_problem:
        problems["reason"] = reason_problem
    if collected_on is not None:
        lab.collected_on = collected_on
    _lab_validate(lab, problems, today)
    if (lab.value_entered, lab.unit_entered, lab.collected_on) == before:
        _refuse(lab, {NON_FIELD_ERRORS: NOTHING_CHANGED})
    _confirm(lab, _lab_warnings(lab), confirmed, by=by, now=now)
    _save(lab, by=by, reason=text)
    return lab


@transaction.atomic
def lab_result_void(
    *, lab: LabResult, by: AbstractBaseUser, reason: str, now: datetime.datetime | None = None
) -> LabResult:
    """Mark a lab result entered in error (see injection_void)."""
    _require(by, roles.CHANGE_LABRESULT, "mark a lab result entered in error")
    _refuse_voided(lab)
    text, problem = _reason_text(reason, what="entry is marked entered in error")
    if problem:
        raise ValidationError({"reason": problem})
    lab.voided_at = now or timezone.now()
    lab.voided_by = by
    lab.void_reason = text
    _save(lab, by=by, reason=f"Entered in error: {text}")
    return lab


def panel_field(analyte: str, field: str) -> str:
    """How lab_panel_record names a row's field in its errors: "ferritin.value"."""
    return f"{analyte}.{field}"


@transaction.atomic
def lab_panel_record(
    *,
    patient: Patient,
    collected_on: datetime.date,
    results: Sequence[Mapping[str, Any]],
    entered_by: AbstractBaseUser,
    not_drawn: Sequence[Mapping[str, Any]] = (),
    notes: str = "",
    today: datetime.date | None = None,
) -> list[LabResult]:
    """Every lab of one draw at once, all or nothing: `results` are {analyte, value, unit} rows (each
    recorded as lab_result_record does) and `not_drawn` {analyte, reason} rows (a LabNotDrawn each, on
    `collected_on`). Refusals name the row: {"ferritin.value": ...}; nothing is saved if any row fails."""
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    if not results and not not_drawn:
        raise ValidationError({NON_FIELD_ERRORS: "Enter at least one result or say which labs were not drawn."})
    if not isinstance(collected_on, datetime.date):
        raise ValidationError({"collected_on": "Give the date the blood was drawn."})
    if _is_future_date(collected_on, today):
        raise ValidationError({"collected_on": FUTURE_DATE})
    seen: set[str] = set()
    for row in [*results, *not_drawn]:
        if row["analyte"] in seen:
            errors[panel_field(row["analyte"], "analyte")] = ["This lab appears twice in the panel."]
        seen.add(row["analyte"])
    saved: list[LabResult] = []
    for row in results:
        analyte = row["analyte"]
        try:
            saved.append(
                lab_result_record(
                    patient=patient,
                    analyte=analyte,
                    value=row["value"],
                    unit=row["unit"],
                    collected_on=collected_on,
                    entered_by=entered_by,
                    notes=notes,
                    today=today,
                )
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                target = "collected_on" if field == "collected_on" else panel_field(analyte, field)
                errors.setdefault(target, []).extend(messages)
    for row in not_drawn:
        analyte = row["analyte"]
        mark = LabNotDrawn(
            patient=patient,
            analyte=analyte,
            on=collected_on,
            reason=(row.get("reason") or "").strip(),
            recorded_by=entered_by,
        )
        try:
            _validate(mark, rename={"reason": panel_field(analyte, "not_drawn_reason")})
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                errors.setdefault(field if "." in field else panel_field(analyte, field), []).extend(messages)
        else:
            _save(mark, by=entered_by)
    if errors:
        # The transaction (this function's) is rolled back: not one row of the panel stays.
        raise ValidationError(errors)
    return saved


# Symptoms and medications --------------------------------------------------------------------------


@transaction.atomic
def symptom_check_record(
    *,
    patient: Patient,
    checked_on: datetime.date,
    neurological: bool,
    depression: bool,
    recorded_by: AbstractBaseUser,
    notes: str = "",
    today: datetime.date | None = None,
) -> SymptomCheck:
    today = today or timezone.localdate()
    check = SymptomCheck(
        patient=patient,
        checked_on=checked_on,
        neurological=neurological,
        depression=depression,
        notes=notes.strip(),
        recorded_by=recorded_by,
    )
    _validate(check, extra={"checked_on": FUTURE_DATE if _is_future_date(checked_on, today) else None})
    _save(check, by=recorded_by)
    return check


@transaction.atomic
def medication_start(
    *,
    patient: Patient,
    name: str,
    start: datetime.date,
    recorded_by: AbstractBaseUser,
    detail: str = "",
    today: datetime.date | None = None,
) -> Medication:
    today = today or timezone.localdate()
    medication = Medication(patient=patient, name=name, detail=detail.strip(), start=start, recorded_by=recorded_by)
    _validate(medication, extra={"start": FUTURE_DATE if _is_future_date(start, today) else None})
    _save(medication, by=recorded_by)
    return medication


@transaction.atomic
def medication_stop(*, medication: Medication, stop: datetime.date, by: AbstractBaseUser) -> Medication:
    """Record when a medication stops (or will stop: a planned stop date may lie in the future)."""
    if medication.stop is not None:
        raise ValidationError({"stop": f"Already stopped on {medication.stop.day} {medication.stop:%b %Y}."})
    medication.stop = stop
    _validate(medication)
    _save(medication, by=by)
    return medication
