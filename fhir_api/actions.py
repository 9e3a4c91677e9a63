"""Every write of the FHIR API: tokens (create, revoke, use), bulk exports (start, run, cancel) and
lab results posted as FHIR Observations (through labs_in, so the same matching, checks and queue as
HL7). Views and the task call these; nothing else writes."""

from __future__ import annotations

import datetime
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from accounts.clinics import clinics_of
from accounts.models import Clinic
from accounts.roles import POST_RESULTS, USE_API
from fhir_api import inbound, resources, selectors, tokens
from fhir_api.models import ApiToken, BulkExport, ExportStatus
from labs_in import actions as labs_in_actions
from labs_in.models import ResultStatus
from patients.access import VIEW_PATIENT, require

log = logging.getLogger(__name__)

LABEL_MAX = 100
# The resource types of an export, in the order their files are written.
EXPORT_TYPES = ("Patient", "Condition", "MedicationAdministration", "Observation", "CarePlan", "Flag")


# Tokens ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


@transaction.atomic
def token_create(*, user: AbstractBaseUser, label: str, now: datetime.datetime, days: int | None = None) -> NewToken:
    if not (user.has_perm(USE_API) or user.has_perm(POST_RESULTS)):
        raise PermissionDenied("Your role does not use the FHIR API.")
    label = label.strip()
    if not label:
        raise ValidationError({"label": "Say what the token is for."})
    if len(label) > LABEL_MAX:
        raise ValidationError({"label": f"At most {LABEL_MAX} characters."})
    days = settings.FHIR_TOKEN_DAYS if days is None else days
    if not 1 <= days <= 366:
        raise ValidationError({"days": "A token lasts from 1 to 366 days."})
    secret = tokens.new_token()
    token = ApiToken.objects.create(
        user=user,
        label=label,
        prefix=tokens.shown_prefix(secret),
        key_hash=tokens.token_hash(secret),
        created_at=now,
        expires_at=now + datetime.timedelta(days=days),
    )
    return NewToken(token=token, secret=secret)


def token_revoke(*, user: AbstractBaseUser, token_id: int, now: datetime.datetime) -> ApiToken:
    """Revoke one of `user`'s own tokens (at once: the next request with it is a 401)."""
    token = selectors.tokens_of(user).filter(pk=token_id).first()
    if token is None:
        raise ValidationError({"token": "No such token of yours."})
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.refresh_from_db()
    return token


def token_use(*, raw: str, now: datetime.datetime) -> ApiToken | None:
    """The valid token `raw` names, its last use noted (at most once a minute); None when not valid."""
    token = selectors.token_valid(raw, now=now)
    if token is not None and (token.last_used_at is None or now - token.last_used_at > datetime.timedelta(minutes=1)):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# Bulk export -------------------------------------------------------------------------------------


def export_directory(export: BulkExport) -> Path:
    return Path(settings.FHIR_EXPORT_DIR) / str(export.pk)


@transaction.atomic
def export_start(
    *,
    user: AbstractBaseUser,
    token: ApiToken | None,
    clinics: list[Clinic],
    types: list[str],
    since: datetime.datetime | None,
    request_url: str,
    now: datetime.datetime,
) -> BulkExport:
    """Record an export of `clinics` (the user's, or the one Group) and queue its task once committed."""
    require(user, USE_API)
    require(user, VIEW_PATIENT)
    allowed = set(clinics_of(user).values_list("pk", flat=True))
    if not clinics or any(clinic.pk not in allowed for clinic in clinics):
        raise PermissionDenied("Not one of your clinics.")
    unknown = [kind for kind in types if kind not in EXPORT_TYPES]
    if unknown:
        raise ValidationError({"_type": f"Not exported here: {', '.join(unknown)}; use {', '.join(EXPORT_TYPES)}."})
    export = BulkExport.objects.create(
        user=user, token=token, request_url=request_url[:1000], types=types, since=since, requested_at=now
    )
    export.clinics.set(clinics)
    from fhir_api import tasks  # the task module imports this one

    transaction.on_commit(lambda: tasks.run_export.delay(str(export.pk)))
    return export


def _claim(export_id: str) -> BulkExport | None:
    if BulkExport.objects.filter(pk=export_id, status=ExportStatus.QUEUED).update(status=ExportStatus.RUNNING) != 1:
        return None
    return BulkExport.objects.get(pk=export_id)


def _cancelled(export: BulkExport) -> bool:
    return BulkExport.objects.filter(pk=export.pk, status=ExportStatus.CANCELLED).exists()


def export_run(*, export_id: str) -> str:
    """Write the export's NDJSON files, one a resource type, patient by patient (progress noted;
    a cancellation stops it and removes the files). Claimed once: a second run does nothing."""
    export = _claim(export_id)
    if export is None:
        return "not queued"
    directory = export_directory(export)
    directory.mkdir(parents=True, exist_ok=True)
    wanted = [kind for kind in EXPORT_TYPES if not export.types or kind in export.types]
    files = {kind: (directory / f"{kind}.ndjson").open("w", encoding="utf-8") for kind in wanted}
    counts = dict.fromkeys(wanted, 0)
    patients = list(selectors.export_patients(export))
    exported: list[int] = []
    try:
        for number, patient in enumerate(patients, start=1):
            if number % 10 == 1 and _cancelled(export):
                return "cancelled"
            if not _changed_since(patient, export.since):
                continue
            for resource in resources.everything(patient):
                kind = resource.get_resource_type()
                if kind in files:
                    files[kind].write(resources.to_json(resource) + "\n")
                    counts[kind] += 1
            exported.append(patient.pk)
            BulkExport.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(
                progress=f"{number} of {len(patients)} patients"
            )
    except Exception as error:
        log.exception("FHIR export %s failed", export.pk)
        BulkExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise
    finally:
        for handle in files.values():
            handle.close()
        if _cancelled(export):
            shutil.rmtree(directory, ignore_errors=True)
    output = [{"type": kind, "name": f"{kind}.ndjson", "count": counts[kind]} for kind in wanted if counts[kind]]
    for kind in wanted:
        if not counts[kind]:
            (directory / f"{kind}.ndjson").unlink(missing_ok=True)
    done = BulkExport.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.DONE,
        output=output,
        patient_ids=exported,
        progress=f"{len(patients)} of {len(patients)} patients",
        finished_at=timezone.now(),
    )
    if not done:  # cancelled during the last patients
        shutil.rmtree(directory, ignore_errors=True)
        return "cancelled"
    return f"{len(exported)} patients"


def _changed_since(patient: Any, since: datetime.datetime | None) -> bool:
    """With _since, a patient is exported (whole) when their record or an injection, lab or cause of
    theirs was written at or after it. (A correction or an entered-in-error mark changes the
    patient's history, not these times: export without _since to be sure of every change.)"""
    if since is None or patient.updated_at >= since:
        return True
    return (
        patient.injections.filter(created_at__gte=since).exists()
        or patient.labs.filter(entered_at__gte=since).exists()
        or patient.causes.filter(recorded_at__gte=since).exists()
    )


def export_cancel(*, user: AbstractBaseUser, export: BulkExport) -> None:
    """DELETE on the status URL: stop it if running, remove its files; the record stays, cancelled."""
    if export.user_id != user.pk:
        raise PermissionDenied("Not your export.")
    BulkExport.objects.filter(pk=export.pk).exclude(status=ExportStatus.CANCELLED).update(
        status=ExportStatus.CANCELLED, finished_at=timezone.now()
    )
    shutil.rmtree(export_directory(export), ignore_errors=True)


def exports_expire(*, now: datetime.datetime) -> int:
    """Delete the files of exports finished more than FHIR_EXPORT_KEEP_HOURS ago (hourly, by beat):
    patient data does not linger on disk. Returns how many expired."""
    cutoff = now - datetime.timedelta(hours=settings.FHIR_EXPORT_KEEP_HOURS)
    expired = 0
    finished = BulkExport.objects.filter(status__in=[ExportStatus.DONE, ExportStatus.FAILED], finished_at__lt=cutoff)
    for export in finished:
        if BulkExport.objects.filter(pk=export.pk, status=export.status).update(status=ExportStatus.EXPIRED):
            shutil.rmtree(export_directory(export), ignore_errors=True)
            expired += 1
    return expired


# FHIR in -----------------------------------------------------------------------------------------

QUEUE_CLINIC_PROBLEM = (
    "Results posted by an account of several clinics (but not all) could not be queued for the right "
    "clinic's staff: post them with an account of one clinic."
)


def _queue_clinic(user: AbstractBaseUser) -> Clinic | None:
    """Whose queue an unmatched result joins: the user's one clinic; None (everyone's) for a user
    who sees every clinic; PermissionDenied otherwise."""
    clinics = list(clinics_of(user))
    if len(clinics) == 1:
        return clinics[0]
    if clinics and len(clinics) == Clinic.objects.count():
        return None
    raise PermissionDenied(QUEUE_CLINIC_PROBLEM)


def _outcome_entry(status: str, text: str, severity: str, *, location: str = "") -> dict[str, Any]:
    code = "informational" if severity == "information" else "processing"
    outcome = resources.operation_outcome(text, severity=severity, code=code)
    response: dict[str, Any] = {"status": status, "outcome": outcome.model_dump(mode="json", exclude_none=True)}
    if location:
        response["location"] = location
    return {"response": response}


def _observation_entry(receipt: labs_in_actions.Receipt) -> dict[str, Any]:
    result = receipt.message.results.select_related("lab").first() if receipt.message else None
    if result is None:
        return _outcome_entry("500 Internal Server Error", "Nothing was kept of this Observation.", "error")
    location = f"Observation/lab-{result.lab_id}" if result.lab_id else ""
    if receipt.duplicate:
        return _outcome_entry(
            "200 OK",
            f"Already received (identifier {receipt.message.control_id}): nothing recorded again. "
            f"It was {result.get_status_display().lower()}{': ' + result.reason if result.reason and result.status == ResultStatus.PENDING else ''}.",
            "information",
            location=location,
        )
    if result.status == ResultStatus.RECORDED:
        return {"response": {"status": "201 Created", "location": location}}
    return _outcome_entry("202 Accepted", f"Queued for the clinic's staff to match: {result.reason}", "warning")


def observations_receive(*, user: AbstractBaseUser, body: bytes) -> tuple[int, str]:
    """A posted transaction or batch Bundle of Observations: each recorded (201), queued with the
    reason (202), already received (200), or refused (4xx). A transaction with a refused entry
    records nothing (400, the problems in one OperationOutcome). Returns (HTTP status, the answer)."""
    require(user, POST_RESULTS)
    require(user, labs_in_actions.ADD_LABRESULT)
    clinic = _queue_clinic(user)
    try:
        posted = inbound.parse(body, mrn_system=settings.FHIR_MRN_SYSTEM)
    except inbound.BundleRefused as error:
        return 400, resources.to_json(resources.operation_outcome(str(error), code="structure"))
    if posted.type == "transaction" and posted.refused:
        problems = [
            {
                "severity": "error",
                "code": "processing",
                "diagnostics": entry.problem,
                "expression": [f"Bundle.entry[{entry.index}]"],
            }
            for entry in posted.refused
        ]
        return 400, resources.to_json(
            OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": problems})
        )
    answers: list[dict[str, Any]] = []
    fields = labs_in_actions.Fields(
        mrn="the subject Patient's identifier",
        birth_date="the subject Patient's birthDate",
        status="Observation.status",
        observed="Observation.effectiveDateTime",
    )
    with transaction.atomic():
        for entry in posted.entries:
            if entry.kind == "refused":
                answers.append(_outcome_entry(entry.status, entry.problem, "error"))
            elif entry.kind == "patient":
                answers.append(
                    _outcome_entry(
                        "200 OK",
                        "Read to identify the subject of Observations: no patient is created or changed.",
                        "information",
                    )
                )
            else:
                receipt = labs_in_actions.results_receive(
                    received=entry.received, raw=entry.raw, clinic=clinic, by=user, via="fhir", fields=fields
                )
                answers.append(_observation_entry(receipt))
    response = Bundle.model_validate({"resourceType": "Bundle", "type": f"{posted.type}-response", "entry": answers})
    return 200, resources.to_json(response)
