"""The application layer: every write that pages, the admin, management commands and imports make.

Each action runs in one transaction and does, in this order:
1. write the clinical record (patients.services: validation, history, permissions);
2. refresh the patient's care status (care.services), so no page shows a status computed from facts
   that have since changed, and a rolled-back write rolls the status back too;
3. cancel the reminders that no longer apply (reminders.outbox): the injection or lab just recorded
   cancels the reminder about it.
Nothing below this layer calls upward; callers above it (views, admin, commands) call only actions
for writes. Refused input raises ValidationError({argument: message}); "__all__" names a refusal
about the patient's state rather than one field (e.g. not an oral-switch candidate).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import roles
from care.models import CareAlert, CareStatus, ProfileRun, Verdict
from care.selectors import injection_early_warning
from care.services import care_status_refresh, care_status_refresh_all
from outreach import services as outreach
from outreach.models import Appointment, AppointmentKind, AppointmentStatus, ClinicCapacity, ContactAttempt
from patients import services as record
from patients.bulk import RecordBulk
from patients.models import ORAL_DOSE_MAX_MCG, ORAL_DOSE_MIN_MCG, Decision, Injection, Patient, Regimen
from patients.plausibility import EARLY_DOSE, SoftWarning
from protocols import services as profiles
from protocols.models import ProtocolProfile
from reminders.appointments import appointment_notice_queue
from reminders.outbox import reminders_cancel_obsolete, reminders_follow_discharge

if TYPE_CHECKING:
    from protocols.models import ProtocolProfileDraft

Result = TypeVar("Result")


# Patient ids whose steps 2 and 3 wait for the end of a `batch()` (None: not in a batch).
_batched: ContextVar[set[int] | None] = ContextVar("actions_batched", default=None)


def record_changed(patient: Patient) -> None:
    """Steps 2 and 3 of every action, for a record the caller has just written (inside its transaction)."""
    pending = _batched.get()
    if pending is not None:
        pending.add(patient.pk)
        return
    care_status_refresh(patient=patient)
    reminders_cancel_obsolete(patient=patient)


@contextlib.contextmanager
def batch(*, progress: Callable[[int, int], None] | None = None) -> Iterator[None]:
    """Many actions in one transaction (the register import): each writes the record at once, with
    every check, and steps 2 and 3 run once per touched patient at the end, the care statuses computed
    in chunks (care_status_refresh_all, reporting to `progress(done, total)`). Raising inside the
    block rolls everything back."""
    if _batched.get() is not None:  # nested: the outer batch finishes
        yield
        return
    pending: set[int] = set()
    token = _batched.set(pending)
    try:
        with transaction.atomic():
            yield
            _batched.reset(token)
            token = None
            if pending:
                care_status_refresh_all(patients=Patient.objects.filter(pk__in=pending), progress=progress)
                for patient in Patient.objects.filter(pk__in=pending, reminders__isnull=False).distinct():
                    reminders_cancel_obsolete(patient=patient)
    finally:
        if token is not None:
            _batched.reset(token)


def _action(
    write: Callable[..., Result], patient_of: Callable[[Mapping[str, Any], Result], Patient]
) -> Callable[..., Result]:
    """The action for the record service `write`: the same keyword arguments, then record_changed()
    for the patient `patient_of(arguments, result)`, all in one transaction."""

    @functools.wraps(write)
    def action(**arguments: Any) -> Result:
        with transaction.atomic():
            result = write(**arguments)
            record_changed(patient_of(arguments, result))
        return result

    return action


def _argument(name: str) -> Callable[[Mapping[str, Any], object], Patient]:
    """The patient of the argument `name`: the patient itself, or the record it belongs to."""

    def patient_of(arguments: Mapping[str, Any], result: object) -> Patient:
        value = arguments[name]
        return value if isinstance(value, Patient) else value.patient

    return patient_of


# The clinical record -------------------------------------------------------------------------------

patient_create = _action(record.patient_create, lambda arguments, patient: patient)
patient_update = _action(record.patient_update, _argument("patient"))
patient_update_contact = _action(record.patient_update_contact, _argument("patient"))
patient_set_clinical_flags = _action(record.patient_set_clinical_flags, _argument("patient"))
patient_set_email_consent = _action(record.patient_set_email_consent, _argument("patient"))
# The patient's care and reminders stay as they are; only the clinic whose staff see them changes.
patient_transfer = _action(record.patient_transfer, _argument("patient"))
cause_add = _action(record.cause_add, _argument("patient"))
cause_update = _action(record.cause_update, _argument("cause"))
cause_remove = _action(record.cause_remove, _argument("cause"))
regimen_set_profile = _action(record.regimen_set_profile, _argument("regimen"))
injection_correct = _action(record.injection_correct, _argument("injection"))
injection_void = _action(record.injection_void, _argument("injection"))
lab_result_correct = _action(record.lab_result_correct, _argument("lab"))
lab_result_void = _action(record.lab_result_void, _argument("lab"))
symptom_check_record = _action(record.symptom_check_record, _argument("patient"))


@transaction.atomic
def record_bulk_write(*, bulk: RecordBulk) -> list[Patient]:
    """Write the entries `bulk` has checked (patients.bulk: the services' checks, read once, for the
    register import), each with its history row; then steps 2 and 3 for every patient touched: at the
    end of the batch() around it, or here at once in chunks."""
    patients = bulk.write()
    pending = _batched.get()
    if pending is not None:
        pending.update(p.pk for p in patients)
    elif patients:
        ids = [p.pk for p in patients]
        care_status_refresh_all(patients=Patient.objects.filter(pk__in=ids))
        for patient in Patient.objects.filter(pk__in=ids, reminders__isnull=False).distinct():
            reminders_cancel_obsolete(patient=patient)
    return patients


@transaction.atomic
def injection_record(
    *, patient: Patient, given_at: datetime.datetime, history: bool = False, **arguments: Any
) -> Injection:
    """record.injection_record, with the care status's early-dose warning (a dose much earlier than
    the schedule) as one more soft warning to confirm (code `early_dose`). Imported history
    (`history`, see record.injection_record) is not asked about the schedule: its doses made it."""
    early = None
    if isinstance(given_at, datetime.datetime) and not history:
        # The stored care status as it is now (the caller's patient may carry an older one).
        current = Patient.objects.select_related("care_status").get(pk=patient.pk)
        early = injection_early_warning(patient=current, given_at=given_at)
    warnings = [SoftWarning(EARLY_DOSE, "given_at", early)] if early else []
    injection = record.injection_record(
        patient=patient, given_at=given_at, warnings=warnings, history=history, **arguments
    )
    record_changed(patient)
    if not history:
        outreach.appointments_attend(
            patient=patient, kind=AppointmentKind.INJECTION, visit_at=injection.given_at, now=timezone.now()
        )
    return injection


@transaction.atomic
def lab_result_record(*, patient: Patient, **arguments: Any) -> Any:
    """record.lab_result_record; the lab drawn marks the booked recheck it fulfils attended."""
    lab = record.lab_result_record(patient=patient, **arguments)
    record_changed(patient)
    outreach.appointments_attend(
        patient=patient, kind=AppointmentKind.RECHECK, visit_at=lab.collected_on, now=timezone.now()
    )
    return lab


@transaction.atomic
def lab_panel_record(*, patient: Patient, collected_on: datetime.date, **arguments: Any) -> Any:
    """record.lab_panel_record; the draw marks the booked recheck it fulfils attended."""
    result = record.lab_panel_record(patient=patient, collected_on=collected_on, **arguments)
    record_changed(patient)
    if isinstance(collected_on, datetime.date):
        outreach.appointments_attend(
            patient=patient, kind=AppointmentKind.RECHECK, visit_at=collected_on, now=timezone.now()
        )
    return result


# The regimen as another system left it (the register import carries over decisions made before the
# clinic used B12 Clinic): the pages change it through the decision_* actions below, which record a
# Decision and check that the protocol allows it today.
regimen_import_interval = _action(record.regimen_set_interval_override, _argument("regimen"))
regimen_import_recheck_date = _action(record.regimen_set_recheck_date, _argument("regimen"))
regimen_import_oral = _action(record.regimen_switch_to_oral, _argument("regimen"))

medication_start = _action(record.medication_start, _argument("patient"))
medication_stop = _action(record.medication_stop, _argument("medication"))


@transaction.atomic
def patient_discharge(**arguments: Any) -> Patient:
    """patients.services.patient_discharge, then the care status (the patient leaves the worklists
    and dashboards) and every pending reminder cancelled."""
    patient = record.patient_discharge(**arguments)
    record_changed(patient)
    reminders_follow_discharge(patient=patient)
    now = arguments.get("now") or timezone.now()
    for appointment in Appointment.objects.filter(patient=patient, status=AppointmentStatus.BOOKED):
        outreach.appointment_cancel(
            appointment=appointment, reason=f"Discharged: {patient.get_discharge_reason_display()}", by=None, now=now
        )
        # Nobody writes to a patient who died about the appointment; anyone else is told it is off.
        if patient.discharge_reason != Patient.DischargeReason.DECEASED:
            appointment_notice_queue(appointment=appointment, change="cancelled", now=now)
    return patient


@transaction.atomic
def patient_readmit(**arguments: Any) -> Patient:
    """patients.services.patient_readmit, then the schedule restored: the care status re-evaluated
    and the reminders the discharge cancelled pending again while their due dates stand."""
    patient = record.patient_readmit(**arguments)
    record_changed(patient)
    reminders_follow_discharge(patient=patient)
    return patient


# Protocol profiles ---------------------------------------------------------------------------------


@transaction.atomic
def protocol_profile_publish(*, profile: ProtocolProfile, today: datetime.date | None = None) -> ProtocolProfile:
    """Save a clinic admin's change to a profile as a new version and re-evaluate its patients."""
    profiles.protocol_profile_save(profile=profile)
    care_status_refresh_all(today=today, patients=Patient.objects.filter(regimen__profile=profile))
    return profile


# A change previewed before it is published: the draft is edited and saved without being in force,
# a Celery task counts what it would change (care.preview, read-only), publishing makes it the next
# version and re-evaluates its patients in the background, with progress (care.ProfileRun).

CHANGE_PROFILE_ONLY = "Only a clinic admin may change protocol profiles."


def _require_profile_editor(by: AbstractBaseUser) -> None:
    if not by.has_perm(roles.CHANGE_PROFILE):
        raise PermissionDenied(CHANGE_PROFILE_ONLY)


def protocol_profile_draft_start(*, profile: ProtocolProfile, by: AbstractBaseUser) -> ProtocolProfileDraft:
    _require_profile_editor(by)
    return profiles.protocol_profile_draft_start(profile=profile, by=by)


def protocol_profile_draft_save(*, draft: ProtocolProfileDraft, by: AbstractBaseUser) -> ProtocolProfileDraft:
    _require_profile_editor(by)
    return profiles.protocol_profile_draft_save(draft=draft)


@transaction.atomic
def protocol_profile_draft_edit(
    *, profile: ProtocolProfile, settings: Mapping[str, Any], by: AbstractBaseUser
) -> ProtocolProfileDraft:
    """The page's save: the profile's draft (started if there is none) with these settings, all or
    nothing (a refused value leaves no draft behind)."""
    draft = protocol_profile_draft_start(profile=profile, by=by)
    for name, value in settings.items():
        setattr(draft, name, value)
    return protocol_profile_draft_save(draft=draft, by=by)


def protocol_profile_draft_discard(*, draft: ProtocolProfileDraft, by: AbstractBaseUser) -> None:
    _require_profile_editor(by)
    profiles.protocol_profile_draft_discard(draft=draft)


def _queue_run(
    *,
    profile: ProtocolProfile,
    kind: str,
    settings: dict[str, object],
    by: AbstractBaseUser,
    today: datetime.date | None,
) -> ProfileRun:
    """A run of the profile's patients (care.preview.profile_run_execute), queued once this commits."""
    from care.tasks import run_profile  # noqa: PLC0415 (Celery tasks load at first use, not with the actions)

    run = ProfileRun.objects.create(
        profile=profile,
        kind=kind,
        settings=settings,
        version=profile.version,
        as_of=today or timezone.localdate(),
        by=by,
    )
    transaction.on_commit(lambda: run_profile.delay(run.pk))
    return run


@transaction.atomic
def protocol_profile_preview(
    *, draft: ProtocolProfileDraft, by: AbstractBaseUser, today: datetime.date | None = None
) -> ProfileRun:
    """Queue the preview of the draft as it is now (its settings are kept on the run); it writes
    nothing but the run."""
    _require_profile_editor(by)
    return _queue_run(
        profile=draft.profile, kind=ProfileRun.Kind.PREVIEW, settings=draft.setting_values(), by=by, today=today
    )


@transaction.atomic
def protocol_profile_draft_publish(
    *, draft: ProtocolProfileDraft, by: AbstractBaseUser, today: datetime.date | None = None
) -> ProfileRun:
    """The draft becomes the profile's next version; its patients are re-evaluated in the background
    (each care status names the version that produced it, so a status not yet re-evaluated shows
    the previous one)."""
    _require_profile_editor(by)
    profile = profiles.protocol_profile_draft_apply(draft=draft)
    return _queue_run(
        profile=profile, kind=ProfileRun.Kind.PUBLISH, settings=profile.setting_values(), by=by, today=today
    )


# Physicians' decisions -----------------------------------------------------------------------------
# Each checks `patients.make_decision` first, then changes the regimen through the record's services,
# refreshes the care status and records the Decision, in one transaction.

REASON_REQUIRED = "Say why: the reason is kept with the decision."
NOT_A_CANDIDATE = "The protocol does not list this patient as an oral-switch candidate (verdict: {verdict})."
PERMANENT_CAUSE = (
    "Injections are lifelong for this patient (a permanent cause: {rules}); a switch to oral therapy cannot be "
    "made here."
)
ALREADY_ORAL = "Already on oral therapy since {since.day} {since:%b %Y}."
NO_OVERRIDE = "There is no physician-set interval to clear."
NO_RECHECK_DATE = "There is no physician-set recheck date to clear."
NOT_ON_ORAL = "The patient is not on oral therapy: injections are already due."
ALERT_NOT_ACTIVE = "This alert is not active for the patient any more."


def _require_decision_maker(by: AbstractBaseUser) -> None:
    if not by.has_perm(roles.MAKE_DECISION):
        raise PermissionDenied("Only a physician may make clinical decisions.")


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationError({"reason": REASON_REQUIRED})
    return text


def _locked_regimen(patient: Patient) -> Regimen:
    # Two physicians deciding at once: the second waits and then sees the first one's result.
    return Regimen.objects.select_for_update().select_related("patient", "profile").get(patient=patient)


def _record(
    *,
    patient: Patient,
    kind: str,
    by: AbstractBaseUser,
    reason: str,
    now: datetime.datetime | None,
    details: dict[str, object] | None = None,
    alert_rule: str = "",
    alert_since: datetime.date | None = None,
) -> Decision:
    decision = Decision(
        patient=patient,
        kind=kind,
        made_by=by,
        made_at=now or timezone.now(),
        reason=reason,
        alert_rule=alert_rule,
        alert_since=alert_since,
        details=details or {},
    )
    decision._history_user = by  # type: ignore[attr-defined]
    decision.full_clean()
    decision.save()
    return decision


def _current_status(patient: Patient, today: datetime.date | None) -> CareStatus:
    """The stored care status, refreshed first so the decision rests on today's evaluation."""
    care_status_refresh(patient=patient, today=today)
    return CareStatus.objects.get(patient=patient)


def _require_oral_candidate(status: CareStatus, regimen: Regimen) -> None:
    if regimen.oral_since is not None:
        raise ValidationError({NON_FIELD_ERRORS: ALREADY_ORAL.format(since=regimen.oral_since)})
    if status.verdict == Verdict.LIFELONG:
        raise ValidationError({NON_FIELD_ERRORS: PERMANENT_CAUSE.format(rules=", ".join(status.verdict_rules))})
    if status.verdict != Verdict.ORAL_SWITCH_CANDIDATE:
        raise ValidationError({NON_FIELD_ERRORS: NOT_A_CANDIDATE.format(verdict=status.verdict)})


@transaction.atomic
def decision_set_interval(
    *,
    patient: Patient,
    months: int | None = None,
    days: int | None = None,
    reason: str,
    by: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> Decision:
    """SCHED-OVERRIDE: set the maintenance interval, in months or in days (weekly, two-weekly ...);
    it wins over the protocol's own."""
    _require_decision_maker(by)
    text = _reason(reason)
    regimen = _locked_regimen(patient)
    previous = {
        "previous_months": regimen.maintenance_interval_months,
        "previous_days": regimen.maintenance_interval_days,
    }
    record.regimen_set_interval_override(regimen=regimen, months=months, days=days, reason=text, by=by, now=now)
    record_changed(patient)
    return _record(
        patient=patient,
        kind=Decision.Kind.INTERVAL_OVERRIDE_SET,
        by=by,
        reason=text,
        now=now,
        details={"months": months, "days": days, **previous},
    )


@transaction.atomic
def decision_clear_interval(
    *, patient: Patient, reason: str, by: AbstractBaseUser, now: datetime.datetime | None = None
) -> Decision:
    """Back to the protocol's interval; the decision keeps the override that was cleared."""
    _require_decision_maker(by)
    text = _reason(reason)
    regimen = _locked_regimen(patient)
    if not regimen.interval_override:
        raise ValidationError({NON_FIELD_ERRORS: NO_OVERRIDE})
    previous = {
        "previous_months": regimen.maintenance_interval_months,
        "previous_days": regimen.maintenance_interval_days,
        "previous_reason": regimen.interval_reason,
    }
    record.regimen_clear_interval_override(regimen=regimen, by=by)
    record_changed(patient)
    return _record(
        patient=patient, kind=Decision.Kind.INTERVAL_OVERRIDE_CLEARED, by=by, reason=text, now=now, details=previous
    )


@transaction.atomic
def decision_set_recheck_date(
    *,
    patient: Patient,
    on: datetime.date | None,
    reason: str,
    by: AbstractBaseUser,
    now: datetime.datetime | None = None,
    today: datetime.date | None = None,
) -> Decision:
    """MON-OVERRIDE: set the date of the next recheck ("recheck in 3 months"); it wins until a B12 is
    dated within the recheck window before it."""
    _require_decision_maker(by)
    text = _reason(reason)
    if on is None:
        raise ValidationError({"on": "Give the date of the recheck."})
    regimen = _locked_regimen(patient)
    previous = regimen.recheck_on
    record.regimen_set_recheck_date(regimen=regimen, on=on, reason=text, by=by, now=now, today=today)
    record_changed(patient)
    return _record(
        patient=patient,
        kind=Decision.Kind.RECHECK_DATE_SET,
        by=by,
        reason=text,
        now=now,
        details={"recheck_on": on.isoformat(), "previous_recheck_on": previous.isoformat() if previous else None},
    )


@transaction.atomic
def decision_clear_recheck_date(
    *, patient: Patient, reason: str, by: AbstractBaseUser, now: datetime.datetime | None = None
) -> Decision:
    """Back to the recheck the rules give; the decision keeps the date that was cleared."""
    _require_decision_maker(by)
    text = _reason(reason)
    regimen = _locked_regimen(patient)
    if regimen.recheck_on is None:
        raise ValidationError({NON_FIELD_ERRORS: NO_RECHECK_DATE})
    previous = {"previous_recheck_on": regimen.recheck_on.isoformat(), "previous_reason": regimen.recheck_reason}
    record.regimen_clear_recheck_date(regimen=regimen, by=by)
    record_changed(patient)
    return _record(
        patient=patient, kind=Decision.Kind.RECHECK_DATE_CLEARED, by=by, reason=text, now=now, details=previous
    )


@transaction.atomic
def decision_approve_oral_switch(
    *,
    patient: Patient,
    since: datetime.date | None,
    reason: str,
    by: AbstractBaseUser,
    dose_mcg: int | None = ORAL_DOSE_MIN_MCG,
    recheck_on: datetime.date | None = None,
    today: datetime.date | None = None,
    now: datetime.datetime | None = None,
) -> Decision:
    """STOP-DIETARY-ORAL: switch to oral therapy at `dose_mcg` daily (1000 to 2000), only while the
    protocol says `oral_switch_candidate` (checked here, at the moment of the decision, never trusted
    from the page that was shown); with `recheck_on`, the first recheck on oral therapy is that date
    (MON-OVERRIDE) instead of the protocol's twelve months."""
    _require_decision_maker(by)
    text = _reason(reason)
    if since is None:
        raise ValidationError({"since": "Give the date oral therapy starts."})
    if dose_mcg is None:
        raise ValidationError(
            {"dose_mcg": f"Give the daily oral dose ({ORAL_DOSE_MIN_MCG} to {ORAL_DOSE_MAX_MCG} mcg)."}
        )
    regimen = _locked_regimen(patient)
    status = _current_status(patient, today)
    _require_oral_candidate(status, regimen)
    record.regimen_switch_to_oral(regimen=regimen, since=since, dose_mcg=dose_mcg, by=by, today=today)
    if recheck_on is not None:
        try:
            record.regimen_set_recheck_date(regimen=regimen, on=recheck_on, reason=text, by=by, now=now, today=today)
        except ValidationError as error:
            raise ValidationError({"recheck_on": error.message_dict.get("on", error.messages)}) from None
    record_changed(patient)
    return _record(
        patient=patient,
        kind=Decision.Kind.ORAL_SWITCH_APPROVED,
        by=by,
        reason=text,
        now=now,
        details={
            "since": since.isoformat(),
            "dose_mcg": dose_mcg,
            "recheck_on": recheck_on.isoformat() if recheck_on else None,
            "verdict_rules": status.verdict_rules,
            "suggestion": regimen.profile.oral_dose_text,
        },
    )


@transaction.atomic
def decision_resume_injections(
    *, patient: Patient, reason: str, by: AbstractBaseUser, now: datetime.datetime | None = None
) -> Decision:
    """Back from oral therapy to injections (symptoms returned, a low B12, the patient's wish): the
    injection schedule applies again from the last injection given."""
    _require_decision_maker(by)
    text = _reason(reason)
    regimen = _locked_regimen(patient)
    if regimen.oral_since is None:
        raise ValidationError({NON_FIELD_ERRORS: NOT_ON_ORAL})
    previous = {"previous_oral_since": regimen.oral_since.isoformat(), "previous_dose_mcg": regimen.oral_dose_mcg}
    record.regimen_resume_injections(regimen=regimen, by=by)
    record_changed(patient)
    return _record(
        patient=patient, kind=Decision.Kind.INJECTIONS_RESUMED, by=by, reason=text, now=now, details=previous
    )


@transaction.atomic
def decision_decline_oral_switch(
    *,
    patient: Patient,
    reason: str,
    by: AbstractBaseUser,
    today: datetime.date | None = None,
    now: datetime.datetime | None = None,
) -> Decision:
    """Keep injecting although the protocol suggests oral therapy; the patient leaves the dashboard's
    "awaiting a decision" list until a new lab result is entered."""
    _require_decision_maker(by)
    text = _reason(reason)
    regimen = _locked_regimen(patient)
    status = _current_status(patient, today)
    _require_oral_candidate(status, regimen)
    return _record(
        patient=patient,
        kind=Decision.Kind.ORAL_SWITCH_DECLINED,
        by=by,
        reason=text,
        now=now,
        details={"verdict_rules": status.verdict_rules},
    )


@transaction.atomic
def decision_acknowledge_alert(
    *,
    patient: Patient,
    alert_rule: str,
    reason: str,
    by: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> Decision:
    """Acknowledge the current occurrence of an alert: the dashboard hides it while it stays active
    (its `since` date is on or before the acknowledgement's day) and shows it again if it clears and
    fires anew."""
    _require_decision_maker(by)
    text = _reason(reason)
    alert = CareAlert.objects.filter(patient=patient, rule=alert_rule).first()
    if alert is None:
        raise ValidationError({"alert_rule": ALERT_NOT_ACTIVE})
    return _record(
        patient=patient,
        kind=Decision.Kind.ALERT_ACKNOWLEDGED,
        by=by,
        reason=text,
        now=now,
        alert_rule=alert_rule,
        alert_since=alert.since,
        details={"severity": alert.severity_name, "message": alert.message},
    )


# Outreach: calls and appointments ------------------------------------------------------------------
# outreach.services writes the outreach tables; these add the patient's notice of an appointment
# (reminders.appointments), in the same transaction.


@transaction.atomic
def contact_attempt_record(
    *,
    patient: Patient,
    outcome: str,
    by: AbstractBaseUser,
    now: datetime.datetime | None = None,
    note: str = "",
    next_attempt_on: datetime.date | None = None,
) -> ContactAttempt:
    """A call to bring the patient back and its outcome. "Moved away" and "deceased" do not discharge
    the patient here: the page leads a nurse to the discharge, with that reason."""
    return outreach.contact_attempt_record(
        patient=patient, outcome=outcome, by=by, now=now or timezone.now(), note=note, next_attempt_on=next_attempt_on
    )


@transaction.atomic
def appointment_book(
    *,
    patient: Patient,
    kind: str,
    starts_at: datetime.datetime | None,
    by: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> Appointment:
    now = now or timezone.now()
    appointment = outreach.appointment_book(patient=patient, kind=kind, starts_at=starts_at, by=by, now=now)
    appointment_notice_queue(appointment=appointment, change="booked", now=now)
    return appointment


@transaction.atomic
def appointment_reschedule(
    *,
    appointment: Appointment,
    starts_at: datetime.datetime | None,
    reason: str,
    by: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> Appointment:
    now = now or timezone.now()
    appointment = outreach.appointment_reschedule(
        appointment=appointment, starts_at=starts_at, reason=reason, by=by, now=now
    )
    appointment_notice_queue(appointment=appointment, change="rescheduled", now=now)
    return appointment


@transaction.atomic
def appointment_cancel(
    *, appointment: Appointment, reason: str, by: AbstractBaseUser, now: datetime.datetime | None = None
) -> Appointment:
    now = now or timezone.now()
    appointment = outreach.appointment_cancel(appointment=appointment, reason=reason, by=by, now=now)
    appointment_notice_queue(appointment=appointment, change="cancelled", now=now)
    return appointment


def appointments_mark_missed(*, now: datetime.datetime) -> int:
    """The daily job (clinic.tasks): booked appointments whose day passed without the visit are
    missed, which puts their patients on the outreach list."""
    return outreach.appointments_mark_missed(now=now)


@transaction.atomic
def clinic_capacity_set(*, clinic: Any, appointments: Mapping[int, int], by: AbstractBaseUser) -> list[ClinicCapacity]:
    return outreach.clinic_capacity_set(clinic=clinic, appointments=appointments, by=by)
