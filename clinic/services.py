"""A physician's decisions (HackSoft-style services): each checks `patients.make_decision` first, then
changes the regimen through patients.services and records the Decision, in one transaction.

Refused input raises ValidationError({argument: message}); "__all__" names a refusal that is about the
patient's state rather than one field (e.g. not an oral-switch candidate).
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import roles
from clinic.models import Decision
from patients import services as patient_services
from patients.models import Patient, Regimen
from protocols.models import CareStatus
from protocols.services import care_status_refresh

ORAL_CANDIDATE = "oral_switch_candidate"
LIFELONG = "lifelong"
REASON_REQUIRED = "Say why: the reason is kept with the decision."
NOT_A_CANDIDATE = "The protocol does not list this patient as an oral-switch candidate (verdict: {verdict})."
PERMANENT_CAUSE = (
    "Injections are lifelong for this patient (a permanent cause: {rules}); a switch to oral therapy cannot be "
    "made here."
)
ALREADY_ORAL = "Already on oral therapy since {since:%d %b %Y}."
NO_OVERRIDE = "There is no physician-set interval to clear."
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
    if status.verdict == LIFELONG:
        raise ValidationError({NON_FIELD_ERRORS: PERMANENT_CAUSE.format(rules=", ".join(status.verdict_rules))})
    if status.verdict != ORAL_CANDIDATE:
        raise ValidationError({NON_FIELD_ERRORS: NOT_A_CANDIDATE.format(verdict=status.verdict)})


@transaction.atomic
def decision_set_interval(
    *,
    patient: Patient,
    months: int | None,
    reason: str,
    by: AbstractBaseUser,
    now: datetime.datetime | None = None,
) -> Decision:
    """SCHED-OVERRIDE: set the maintenance interval; it wins over the protocol's own."""
    _require_decision_maker(by)
    text = _reason(reason)
    regimen = _locked_regimen(patient)
    previous = regimen.maintenance_interval_months
    patient_services.regimen_set_interval_override(regimen=regimen, months=months, reason=text, by=by, now=now)
    return _record(
        patient=patient,
        kind=Decision.Kind.INTERVAL_OVERRIDE_SET,
        by=by,
        reason=text,
        now=now,
        details={"months": months, "previous_months": previous},
    )


@transaction.atomic
def decision_clear_interval(
    *, patient: Patient, reason: str, by: AbstractBaseUser, now: datetime.datetime | None = None
) -> Decision:
    """Back to the protocol's interval; the decision keeps the override that was cleared."""
    _require_decision_maker(by)
    text = _reason(reason)
    regimen = _locked_regimen(patient)
    previous = {"previous_months": regimen.maintenance_interval_months, "previous_reason": regimen.interval_reason}
    if regimen.maintenance_interval_months is None:
        raise ValidationError({NON_FIELD_ERRORS: NO_OVERRIDE})
    patient_services.regimen_clear_interval_override(regimen=regimen, by=by)
    return _record(
        patient=patient, kind=Decision.Kind.INTERVAL_OVERRIDE_CLEARED, by=by, reason=text, now=now, details=previous
    )


@transaction.atomic
def decision_approve_oral_switch(
    *,
    patient: Patient,
    since: datetime.date | None,
    reason: str,
    by: AbstractBaseUser,
    today: datetime.date | None = None,
    now: datetime.datetime | None = None,
) -> Decision:
    """STOP-DIETARY-ORAL: switch to oral therapy, only while the protocol says `oral_switch_candidate`
    (checked here, at the moment of the decision, never trusted from the page that was shown)."""
    _require_decision_maker(by)
    text = _reason(reason)
    if since is None:
        raise ValidationError({"since": "Give the date oral therapy starts."})
    regimen = _locked_regimen(patient)
    status = _current_status(patient, today)
    _require_oral_candidate(status, regimen)
    patient_services.regimen_switch_to_oral(regimen=regimen, since=since, by=by, today=today)
    return _record(
        patient=patient,
        kind=Decision.Kind.ORAL_SWITCH_APPROVED,
        by=by,
        reason=text,
        now=now,
        details={
            "since": since.isoformat(),
            "verdict_rules": status.verdict_rules,
            "suggestion": regimen.profile.oral_dose_text,
        },
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
    status = CareStatus.objects.filter(patient=patient).first()
    alert = next((a for a in (status.alerts if status else []) if a["rule"] == alert_rule), None)
    if alert is None:
        raise ValidationError({"alert_rule": ALERT_NOT_ACTIVE})
    return _record(
        patient=patient,
        kind=Decision.Kind.ALERT_ACKNOWLEDGED,
        by=by,
        reason=text,
        now=now,
        alert_rule=alert_rule,
        alert_since=datetime.date.fromisoformat(alert["since"]),
        details={"severity": alert["severity"], "message": alert["message"]},
    )
