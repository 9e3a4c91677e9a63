"""The patient search, the chart and the nurse's data entry. Each view: access check, parse, one
action or selector, render or redirect."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from audit.services import chart_view_log
from care import selectors as care_selectors
from care.explanation import care_status_explanation
from clinic import actions, selectors
from patients import forms
from patients import selectors as record_selectors
from patients.access import VIEW_PATIENT, patient_for, require
from patients.models import Medication, Patient
from reminders.selectors import reminders_for_patient


def _next_or_chart(request: HttpRequest, patient: Patient) -> HttpResponse:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("patient_detail", patient_id=patient.pk)


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else ""


# Search and chart ----------------------------------------------------------------------------------


def patient_list(request: HttpRequest) -> HttpResponse:
    """Search by name or medical record number; htmx asks for the results table alone as you type."""
    require(request.user, VIEW_PATIENT)
    query = request.GET.get("q", "").strip()[:100]
    context = {"query": query, "patients": care_selectors.patient_search(query=query)}
    if getattr(request, "htmx", False):
        return render(request, "patients/_search_results.html", context)
    return render(request, "patients/patient_list.html", context)


def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, queryset=selectors.patient_chart_queryset())
    chart_view_log(user=request.user, patient=patient, ip_address=request.META.get("REMOTE_ADDR"))
    status = getattr(patient, "care_status", None)
    today = timezone.localdate()
    context: dict[str, Any] = {
        "patient": patient,
        "status": status,
        "age": patient.age_on(today),
        "alerts": list(patient.care_alerts.all()),
        "explanation": care_status_explanation(status, alerts=patient.care_alerts.all()) if status else [],
        "timeline": record_selectors.patient_timeline(patient),
        "trend": record_selectors.b12_trend(patient),
        "active_medications": [m for m in patient.medications.all() if m.stop is None],
        "can_decide": request.user.has_perm("patients.make_decision"),
        "stop_form": forms.MedicationStopForm(initial={"stop": today}),
        "reminders": reminders_for_patient(patient),
    }
    return render(request, "patients/patient_detail.html", context)


def patient_history(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The record's audit trail (who changed what, when), loaded when the chart's section is opened:
    it is the chart's most expensive part and rarely read."""
    patient = patient_for(request.user, patient_id)
    chart_view_log(user=request.user, patient=patient, ip_address=request.META.get("REMOTE_ADDR"))
    return render(
        request, "patients/_history.html", {"patient": patient, "history": record_selectors.patient_history(patient)}
    )


# Injections ----------------------------------------------------------------------------------------


def injection_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(
        request.user,
        patient_id,
        permission="patients.add_injection",
        queryset=Patient.objects.select_related("regimen__profile", "care_status"),
    )
    warning = None
    if request.method == "POST":
        form = forms.InjectionForm(request.POST, ask_confirmation=True)
        if form.is_valid():
            data = form.cleaned_data
            already = record_selectors.injection_submitted(data["submission_key"])
            if already is None:
                warning = care_selectors.injection_early_warning(patient=patient, given_at=data["given_at"])
            if warning and not data["confirm_early"]:
                form.add_error("confirm_early", warning)
            else:
                try:
                    injection = actions.injection_record(
                        patient=patient,
                        given_at=data["given_at"],
                        drug=data["drug"],
                        dose_mcg=data["dose_mcg"],
                        route=data["route"],
                        site=data["site"],
                        lot_number=data["lot_number"],
                        lot_expiry=data["lot_expiry"],
                        notes=data["notes"],
                        given_by=request.user,
                        submission_key=data["submission_key"],
                    )
                except ValidationError as error:
                    forms.add_service_errors(form, error)
                else:
                    messages.success(
                        request,
                        f"Injection recorded for {patient.full_name}: {injection.get_drug_display()} "
                        f"{injection.dose_mcg} mcg, {injection.get_site_display().lower()}, "
                        f"{timezone.localtime(injection.given_at):%d %b %Y %H:%M}.",
                    )
                    return _next_or_chart(request, patient)
        if not warning:
            form.hide_confirmation()
    else:
        initial = record_selectors.injection_defaults(patient=patient, user=request.user, now=timezone.now())
        form = forms.InjectionForm(initial=initial)
    return render(
        request,
        "patients/injection_form.html",
        {"patient": patient, "form": form, "warning": warning, "next": _next(request)},
    )


# Labs, symptoms, medications -----------------------------------------------------------------------


def lab_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission="patients.add_labresult")
    if request.method == "POST":
        form = forms.LabResultForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                lab = actions.lab_result_record(
                    patient=patient,
                    analyte=data["analyte"],
                    value=data["value"],
                    unit=data["unit"],
                    collected_on=data["collected_on"],
                    notes=data["notes"],
                    entered_by=request.user,
                )
            except ValidationError as error:
                forms.add_service_errors(form, error)
            else:
                converted = ""
                if lab.unit_entered != lab.unit_canonical:
                    converted = f" = {lab.value_canonical.normalize():f} {lab.unit_canonical}"
                messages.success(
                    request,
                    f"Lab result saved: {lab.get_analyte_display()} {lab.value_entered.normalize():f} "
                    f"{lab.unit_entered}{converted} (collected {lab.collected_on.day} {lab.collected_on:%b %Y}).",
                )
                return _next_or_chart(request, patient)
    else:
        form = forms.LabResultForm(initial={"analyte": "b12", "unit": "pg/mL", "collected_on": timezone.localdate()})
    return render(
        request,
        "patients/lab_form.html",
        {"patient": patient, "form": form, "analyte_units": forms.analyte_units_json(), "next": _next(request)},
    )


def symptom_check_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission="patients.add_symptomcheck")
    if request.method == "POST":
        form = forms.SymptomCheckForm(request.POST)
        if form.is_valid():
            try:
                actions.symptom_check_record(patient=patient, recorded_by=request.user, **form.cleaned_data)
            except ValidationError as error:
                forms.add_service_errors(form, error)
            else:
                messages.success(request, f"Symptom check recorded for {patient.full_name}.")
                return _next_or_chart(request, patient)
    else:
        form = forms.SymptomCheckForm(initial={"checked_on": timezone.localdate()})
    return render(
        request,
        "patients/simple_form.html",
        {"patient": patient, "form": form, "title": "Symptom check", "next": _next(request)},
    )


def medication_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission="patients.add_medication")
    if request.method == "POST":
        form = forms.MedicationStartForm(request.POST)
        if form.is_valid():
            try:
                medication = actions.medication_start(patient=patient, recorded_by=request.user, **form.cleaned_data)
            except ValidationError as error:
                forms.add_service_errors(form, error)
            else:
                messages.success(
                    request, f"{medication} recorded as started on {medication.start.day} {medication.start:%b %Y}."
                )
                return _next_or_chart(request, patient)
    else:
        form = forms.MedicationStartForm(initial={"name": "folic_acid", "start": timezone.localdate()})
    return render(
        request,
        "patients/simple_form.html",
        {"patient": patient, "form": form, "title": "Start a medication", "next": _next(request)},
    )


@require_POST
def medication_stop(request: HttpRequest, patient_id: int, medication_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission="patients.change_medication")
    medication = get_object_or_404(Medication, pk=medication_id, patient=patient)
    form = forms.MedicationStopForm(request.POST)
    if form.is_valid():
        try:
            actions.medication_stop(medication=medication, stop=form.cleaned_data["stop"], by=request.user)
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(
                request, f"{medication} recorded as stopped on {medication.stop.day} {medication.stop:%b %Y}."
            )
            return redirect("patient_detail", patient_id=patient.pk)
    return render(
        request,
        "patients/simple_form.html",
        {
            "patient": patient,
            "form": form,
            "title": f"Stop {medication}",
            "action": reverse("medication_stop", args=[patient.pk, medication.pk]),
        },
    )
