"""One access-log row per request that showed patient data, was refused, or asked for a patient
that is not there."""

from __future__ import annotations

from collections.abc import Callable

from django.apps import apps
from django.http import HttpRequest, HttpResponse

from audit.models import AccessEvent
from audit.services import access_event_log, noted_patients

# Admin pages of these apps show patient data.
PATIENT_DATA_APPS = frozenset({"patients", "care", "reminders", "audit", "clinic"})


def _admin_patients(request: HttpRequest) -> tuple[bool, set[int], str]:
    """(shows patient data, the patients, what) for an admin page."""
    match = request.resolver_match
    parts = request.path.strip("/").split("/")
    if match is None or not match.app_name == "admin" or len(parts) < 3 or parts[1] not in PATIENT_DATA_APPS:
        return False, set(), ""
    app_label, model_name = parts[1], parts[2]
    object_id = match.kwargs.get("object_id")
    ids: set[int] = set()
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return True, ids, f"admin {app_label}.{model_name}"
    if object_id is not None and str(object_id).isdigit():
        if model._meta.label == "patients.Patient":
            ids.add(int(object_id))
        elif any(f.name == "patient" for f in model._meta.get_fields()):
            ids.update(pid for pid in model._default_manager.filter(pk=object_id).values_list("patient_id", flat=True))
    return True, ids, f"admin {app_label}.{model_name} {match.url_name}"


class AccessLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        match = request.resolver_match
        if user is None or not user.is_authenticated or match is None:
            return response
        patient_id = match.kwargs.get("patient_id")
        status = response.status_code
        if status == 403:
            detail = f"patient {patient_id}" if patient_id is not None else ""
            access_event_log(
                kind=AccessEvent.Kind.DENIED, request=request, user=user, status_code=status, detail=detail
            )
        elif status == 404 and patient_id is not None:
            access_event_log(
                kind=AccessEvent.Kind.NOT_FOUND,
                request=request,
                user=user,
                status_code=status,
                detail=f"patient {patient_id}",
            )
        elif status < 400:
            ids = noted_patients(request)
            if patient_id is not None:
                ids.add(int(patient_id))
            admin, admin_ids, detail = _admin_patients(request)
            if ids or admin:
                access_event_log(
                    kind=AccessEvent.Kind.READ,
                    request=request,
                    user=user,
                    patient_ids=ids | admin_ids,
                    status_code=status,
                    detail=detail,
                )
        return response
