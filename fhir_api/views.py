"""The FHIR API's views (bearer tokens, application/fhir+json, OperationOutcome for every error) and
the token page (a logged-in user's own tokens). Each view: access, one selector or action, answer."""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from accounts.clinics import clinics_of
from accounts.roles import POST_RESULTS, USE_API
from audit.services import note_patients
from fhir_api import actions, resources, selectors, tokens
from fhir_api.models import ExportStatus
from patients.access import VIEW_PATIENT, patient_for, require
from patients.models import Patient

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson"}


def _answer(data: Any, status: int = 200, content_type: str = FHIR_JSON) -> HttpResponse:
    body = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    response = HttpResponse(body, status=status, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response


def _outcome(status: int, text: str, code: str = "processing") -> HttpResponse:
    return _answer(resources.to_json(resources.operation_outcome(text, code=code)), status)


def _unauthorised(text: str) -> HttpResponse:
    response = _outcome(401, text, code="login")
    response["WWW-Authenticate"] = 'Bearer realm="fhir"'
    return response


def api(
    *methods: str, permission: str = USE_API
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A FHIR API view: a valid bearer token (401), acting as its user, who needs `permission` (403);
    a 404 or 403 raised inside (patients.access) is answered as an OperationOutcome."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = _outcome(405, f"Use {' or '.join(methods)} here.", code="not-supported")
                response["Allow"] = ", ".join(methods)
                return response
            raw = tokens.bearer(request.headers.get("Authorization", ""))
            if raw is None:
                return _unauthorised("Send an API token: Authorization: Bearer <token> (made on the API tokens page).")
            token = actions.token_use(raw=raw, now=timezone.now())
            if token is None:
                return _unauthorised("This token is not valid: unknown, revoked or expired.")
            request.user = token.user  # the access log (audit.middleware) names the token's user
            request.api_token = token  # type: ignore[attr-defined]
            if not token.user.has_perm(permission):
                return _outcome(403, "Your role does not use this part of the API.", code="forbidden")
            try:
                return view(request, *args, **kwargs)
            except Http404:
                return _outcome(404, "Not found among the patients of your clinics.", code="not-found")
            except PermissionDenied as error:
                return _outcome(403, str(error) or "Your role does not allow this.", code="forbidden")

        return csrf_exempt(login_not_required(wrapped))

    return decorate


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("fhir_api:root"))


@csrf_exempt
@login_not_required
def metadata(request: HttpRequest) -> HttpResponse:
    """The CapabilityStatement: what this server does (no token needed, as FHIR expects)."""
    statement = CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": timezone.localdate().isoformat(),
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json"],
            "implementation": {"description": "B12 Clinic FHIR API", "url": _base(request)},
            "rest": [
                {
                    "mode": "server",
                    "security": {"description": "Bearer tokens made by each user on the API tokens page."},
                    "resource": [
                        {
                            "type": "Patient",
                            "interaction": [{"code": "read"}],
                            "operation": [
                                {
                                    "name": "everything",
                                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                                }
                            ],
                        }
                    ],
                    "interaction": [{"code": "transaction"}, {"code": "batch"}],
                    "operation": [
                        {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}
                    ],
                }
            ],
        }
    )
    return _answer(resources.to_json(statement))


@api("POST", permission=POST_RESULTS)
def root(request: HttpRequest) -> HttpResponse:
    """POST a transaction or batch Bundle of Observations: lab results in (actions.observations_receive)."""
    status, answer = actions.observations_receive(user=request.user, body=request.body)
    return _answer(answer, status)


@api("GET")
def patient_read(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, queryset=Patient.objects.select_related("clinic"))
    return _answer(resources.to_json(resources.patient_resource(patient)))


@api("GET")
def patient_everything(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, queryset=Patient.objects.select_related("clinic"))
    bundle = resources.searchset(
        resources.everything(patient), base=_base(request), self_url=request.build_absolute_uri()
    )
    return _answer(resources.to_json(bundle))


@api("GET")
def export_kickoff(request: HttpRequest, group: str | None = None) -> HttpResponse:
    """Bulk Data Access kick-off: 202 and Content-Location (the status URL), the work in a Celery task."""
    if "respond-async" not in request.headers.get("Prefer", ""):
        return _outcome(400, "Send Prefer: respond-async: a bulk export is always asynchronous.", code="required")
    output_format = request.GET.get("_outputFormat", NDJSON)
    if output_format not in OUTPUT_FORMATS:
        return _outcome(400, f"_outputFormat {output_format!r} is not offered; use {NDJSON}.", code="not-supported")
    types = [kind.strip() for kind in request.GET.get("_type", "").split(",") if kind.strip()]
    since = None
    if request.GET.get("_since"):
        since = parse_datetime(request.GET["_since"])
        if since is None or since.tzinfo is None:
            return _outcome(400, "_since must be a FHIR instant, e.g. 2026-01-31T00:00:00Z.", code="invalid")
    if group is not None:
        clinic = selectors.group_clinic(request.user, group)
        if clinic is None:
            return _outcome(404, "No such Group (clinic) among yours.", code="not-found")
        clinics = [clinic]
    else:
        clinics = list(clinics_of(request.user))
    try:
        export = actions.export_start(
            user=request.user,
            token=request.api_token,  # type: ignore[attr-defined]
            clinics=clinics,
            types=types,
            since=since,
            request_url=request.build_absolute_uri(),
            now=timezone.now(),
        )
    except ValidationError as error:
        return _outcome(400, " ".join(error.messages), code="invalid")
    response = _answer("", 202)
    response["Content-Location"] = request.build_absolute_uri(reverse("fhir_api:export_status", args=[export.pk]))
    return response


def _export(request: HttpRequest, export_id: Any) -> Any:
    """The user's own export, while they may still read patients of every clinic in it."""
    require(request.user, VIEW_PATIENT)
    export = selectors.export_of(request.user, str(export_id))
    if export is None or export.status in (ExportStatus.CANCELLED, ExportStatus.EXPIRED):
        raise Http404
    if export.clinics.exclude(pk__in=clinics_of(request.user)).exists():
        raise Http404  # taken off a clinic's staff since the kick-off
    return export


@api("GET", "DELETE")
def export_status(request: HttpRequest, export_id: Any) -> HttpResponse:
    export = _export(request, export_id)
    if request.method == "DELETE":
        actions.export_cancel(user=request.user, export=export)
        return _answer("", 202)
    if export.status in (ExportStatus.QUEUED, ExportStatus.RUNNING):
        response = _answer("", 202)
        response["X-Progress"] = export.progress or export.get_status_display()
        response["Retry-After"] = "2"
        return response
    if export.status == ExportStatus.FAILED:
        return _outcome(500, f"The export failed: {export.error or 'unknown error'}", code="exception")
    manifest = {
        "transactionTime": export.requested_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
        "request": export.request_url,
        "requiresAccessToken": True,
        "output": [
            {
                "type": item["type"],
                "url": request.build_absolute_uri(reverse("fhir_api:export_file", args=[export.pk, item["name"]])),
                "count": item["count"],
            }
            for item in export.output
        ],
        "error": [],
    }
    return _answer(manifest, 200, content_type="application/json")


@api("GET")
def export_file(request: HttpRequest, export_id: Any, name: str) -> HttpResponse:
    export = _export(request, export_id)
    if export.status != ExportStatus.DONE or name not in {item["name"] for item in export.output}:
        raise Http404
    path = actions.export_directory(export) / name
    if not path.is_file():
        raise Http404
    note_patients(request, export.patient_ids)  # each download of patient data is in the access log
    response = FileResponse(path.open("rb"), content_type=NDJSON)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@login_not_required
def not_found(request: HttpRequest) -> HttpResponse:
    return _outcome(404, "Not something this server offers (see /fhir/metadata).", code="not-found")


# The token page ----------------------------------------------------------------------------------


class TokenForm(forms.Form):
    label = forms.CharField(
        max_length=actions.LABEL_MAX, help_text="What it is for, e.g. the regional registry's import."
    )
    days = forms.IntegerField(min_value=1, max_value=366, initial=90, label="Valid for (days)")


def _may_use_api(request: HttpRequest) -> None:
    if not (request.user.has_perm(USE_API) or request.user.has_perm(POST_RESULTS)):
        raise PermissionDenied("Your role does not use the FHIR API.")


def token_list(request: HttpRequest) -> HttpResponse:
    _may_use_api(request)
    form = TokenForm(request.POST or None, initial={"days": settings.FHIR_TOKEN_DAYS})
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = actions.token_create(
                user=request.user, label=form.cleaned_data["label"], days=form.cleaned_data["days"], now=timezone.now()
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            form = TokenForm(initial={"days": settings.FHIR_TOKEN_DAYS})
    context = {
        "form": form,
        "created": created,
        "tokens": selectors.tokens_of(request.user),
        "now": timezone.now(),
        "base": _base(request),
        "view_patients": request.user.has_perm(VIEW_PATIENT),
    }
    return render(request, "fhir_api/tokens.html", context, status=400 if form.errors else 200)


@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    _may_use_api(request)
    try:
        token = actions.token_revoke(user=request.user, token_id=token_id, now=timezone.now())
    except ValidationError:
        raise Http404("No such token of yours.") from None
    messages.success(request, f"Token {token.label} revoked.")
    return redirect("fhir_api:tokens")
