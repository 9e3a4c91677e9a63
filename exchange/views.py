"""The import page (a clinic admin) and the CSV exports (every list of the staff app)."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.clinics import clinics_of
from audit.models import AccessEvent
from audit.services import access_event_log
from care.selectors import DashboardFilters
from exchange import exports, services
from exchange.importer import FILES, Upload
from exchange.models import ImportRun
from patients.access import VIEW_PATIENT, require
from patients.models import Patient

MAX_UPLOAD_BYTES = 200 * 1024 * 1024


def _csv(data: exports.tablib.Dataset, name: str) -> HttpResponse:
    response = HttpResponse(exports.csv_bytes(data), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localdate():%Y-%m-%d}.csv"'
    return response


def _log_export(request: HttpRequest, ids: set[int], what: str) -> None:
    access_event_log(
        kind=AccessEvent.Kind.READ, request=request, user=request.user, patient_ids=ids, detail=f"export {what}"
    )


# Exports ---------------------------------------------------------------------------------------------


def export_worklist(request: HttpRequest) -> HttpResponse:
    require(request.user, VIEW_PATIENT)
    data, ids = exports.worklist_export(today=timezone.localdate(), clinics=clinics_of(request.user))
    _log_export(request, ids, "worklist")
    return _csv(data, "worklist")


def export_dashboard(request: HttpRequest, name: str) -> HttpResponse:
    require(request.user, VIEW_PATIENT)
    if name not in exports.DASHBOARD_LISTS:
        raise Http404("No such list.")
    filters = DashboardFilters.parse(request.GET)
    data, ids = exports.dashboard_export(
        name=name, today=timezone.localdate(), filters=filters, clinics=clinics_of(request.user)
    )
    _log_export(request, ids, f"dashboard {name}")
    return _csv(data, f"dashboard-{name.replace('_', '-')}")


def export_reminders(request: HttpRequest) -> HttpResponse:
    require(request.user, VIEW_PATIENT)
    data, ids = exports.reminders_export(clinics=clinics_of(request.user), status=request.GET.get("status") or None)
    _log_export(request, ids, "reminders")
    return _csv(data, "reminders")


@permission_required("audit.view_accessevent", raise_exception=True)
def export_access_log(request: HttpRequest) -> HttpResponse:
    data, _ = exports.access_log_export(clinics=clinics_of(request.user))
    access_event_log(kind=AccessEvent.Kind.READ, request=request, user=request.user, detail="export access log")
    return _csv(data, "access-log")


@permission_required(roles.IMPORT_REGISTER, raise_exception=True)
def export_clinic(request: HttpRequest) -> HttpResponse:
    files, ids = exports.clinic_export(patients=Patient.objects.filter(clinic__in=clinics_of(request.user)))
    _log_export(request, ids, "whole clinic")
    response = HttpResponse(exports.zip_of(files), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="clinic-{timezone.localdate():%Y-%m-%d}.zip"'
    return response


# The import page -------------------------------------------------------------------------------------


class ImportForm(forms.Form):
    clinic = forms.CharField(
        required=False, max_length=100, help_text="The clinic (site) the patients belong to; blank with one clinic."
    )
    date_format = forms.CharField(
        required=False, max_length=40, help_text="How the files write dates, e.g. %d/%m/%Y; blank: 2026-01-31."
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name in FILES:
            self.fields[name] = forms.FileField(required=False, label=f"{name.capitalize()} (CSV or XLSX)")

    def clean_date_format(self) -> str:
        text = self.cleaned_data["date_format"].strip()
        if text:
            try:
                datetime.date(2026, 1, 31).strftime(text)
            except ValueError:
                raise forms.ValidationError("Not a date format: write e.g. %d/%m/%Y.") from None
        return text

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        files = [data.get(name) for name in FILES if data.get(name)]
        if not files:
            raise forms.ValidationError("Choose at least one file: the patients, or the history of patients on record.")
        if sum(f.size for f in files) > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"At most {MAX_UPLOAD_BYTES // 1024 // 1024} MB in all.")
        return data

    def uploads(self) -> list[Upload]:
        return [Upload(name, f.name, f.read()) for name in FILES if (f := self.cleaned_data.get(name))]


@permission_required(roles.IMPORT_REGISTER, raise_exception=True)
def import_start(request: HttpRequest) -> HttpResponse:
    """Upload the files: a dry run checks them (as a task) and the report follows."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        run = services.import_run_create(
            uploads=form.uploads(),
            by=request.user,
            dry_run=True,
            clinic=form.cleaned_data["clinic"],
            date_format=form.cleaned_data["date_format"],
        )
        return redirect("exchange:import_run", run_id=run.pk)
    runs = ImportRun.objects.select_related("by")[:10]
    return render(request, "exchange/import_start.html", {"form": form, "files": FILES, "runs": runs})


def _run_for(request: HttpRequest, run_id: int) -> ImportRun:
    return get_object_or_404(ImportRun.objects.select_related("by"), pk=run_id)


@permission_required(roles.IMPORT_REGISTER, raise_exception=True)
def import_run(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_for(request, run_id)
    return render(request, "exchange/import_run.html", _run_context(run))


@permission_required(roles.IMPORT_REGISTER, raise_exception=True)
def import_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress bar htmx polls; once the run is finished, the whole page is loaded again."""
    run = _run_for(request, run_id)
    if run.finished:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "exchange/_progress.html", _run_context(run))


@require_POST
@permission_required(roles.IMPORT_REGISTER, raise_exception=True)
def import_confirm(request: HttpRequest, run_id: int) -> HttpResponse:
    checked = _run_for(request, run_id)
    warnings = bool(checked.report.get("warnings"))
    accept = request.POST.get("accept_warnings") == "on"
    if not checked.dry_run or checked.status != ImportRun.Status.CHECKED or (warnings and not accept):
        return redirect("exchange:import_run", run_id=checked.pk)
    run = services.import_run_confirm(checked=checked, by=request.user, accept_warnings=accept)
    return redirect("exchange:import_run", run_id=run.pk)


def _run_context(run: ImportRun) -> dict[str, object]:
    done, total = services.import_run_progress(run)
    report = run.report or {}
    return {
        "run": run,
        "done": done,
        "total": total,
        "percent": 100 if run.finished else (int(100 * done / total) if total else 0),
        "problems": [p for p in report.get("problems", []) if not p["warning"]],
        "warnings": [p for p in report.get("problems", []) if p["warning"]],
        "counts": report.get("counts", {}),
        "notes": report.get("notes", []),
    }


@permission_required(roles.IMPORT_REGISTER, raise_exception=True)
def import_template(request: HttpRequest, name: str) -> HttpResponse:
    if name not in FILES:
        raise Http404("No such file.")
    return _csv(exports.templates()[name], f"{name}-template")
