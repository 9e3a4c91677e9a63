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

from accounts import roles
from accounts.clinics import clinics_of
from audit.services import note_patients
from care import selectors as care_selectors
from care.explanation import care_status_explanation
from clinic import actions, selectors
from patients import forms
from patients import selectors as record_selectors
from patients.access import VIEW_PATIENT, patient_for, require
from patients.models import Injection, LabResult, Medication, Patient
from patients.plausibility import NeedsConfirmation
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
    query = request.POST.get("q", "").strip()[:100] if request.method == "POST" else ""
    patients = care_selectors.patient_search(query=query, clinics=clinics_of(request.user))
    context = {"query": query, "patients": patients}
    note_patients(request, [patient.pk for patient in context["patients"]])
    if getattr(request, "htmx", False):
        return render(request, "patients/_search_results.html", context)
    return render(request, "patients/patient_list.html", context)


def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, queryset=selectors.patient_chart_queryset())
    status = getattr(patient, "care_status", None)
    today = timezone.localdate()
    several_clinics = clinics_of(request.user).exclude(pk=patient.clinic_id).exists()
    context: dict[str, Any] = {
        "patient": patient,
        "status": status,
        "evaluated_for": care_selectors.care_status_evaluated_for(status) if status else None,
        "age": patient.age_on(today),
        "alerts": list(patient.care_alerts.all()),
        "explanation": care_status_explanation(status, alerts=patient.care_alerts.all()) if status else [],
        "timeline": selectors.chart_timeline(patient, record_selectors.entry_corrections(patient)),
        "trend": record_selectors.b12_trend(patient),
        "active_medications": [m for m in patient.medications.all() if m.stop is None],
        "can_decide": request.user.has_perm("patients.make_decision"),
        # The clinic is named, and a transfer offered, to users who see more than one clinic.
        "show_clinic": several_clinics,
        "can_transfer": several_clinics and request.user.has_perm(roles.TRANSFER_PATIENT),
        "stop_form": forms.MedicationStopForm(initial={"stop": today}),
        "reminders": reminders_for_patient(patient),
    }
    return render(request, "patients/patient_detail.html", context)


def patient_history(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The record's audit trail (who changed what, when), loaded when the chart's section is opened:
    it is the chart's most expensive part and rarely read."""
    patient = patient_for(request.user, patient_id)
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
    if request.method == "POST":
        form = forms.InjectionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
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
                    confirmed=form.confirmed,
                )
            except NeedsConfirmation as question:
                form.ask(question)
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
    else:
        initial = record_selectors.injection_defaults(patient=patient, user=request.user, now=timezone.now())
        form = forms.InjectionForm(initial=initial)
    return render(request, "patients/injection_form.html", {"patient": patient, "form": form, "next": _next(request)})


def _entry(model: type[Injection] | type[LabResult], patient: Patient, pk: int) -> Any:
    return get_object_or_404(model.objects.select_related("voided_by"), pk=pk, patient=patient)


def injection_correct(request: HttpRequest, patient_id: int, injection_id: int) -> HttpResponse:
    """Correct a recorded injection: the changed fields, a reason; the same checks as a new entry."""
    patient = patient_for(request.user, patient_id, permission="patients.change_injection", queryset=_with_regimen())
    injection = _entry(Injection, patient, injection_id)
    initial = {name: getattr(injection, name) for name in forms.InjectionCorrectForm.base_fields if name != "reason"}
    initial["given_at"] = timezone.localtime(injection.given_at).replace(second=0, microsecond=0)
    if request.method == "POST":
        form = forms.InjectionCorrectForm(request.POST, initial=initial)
        if form.is_valid():
            changed = {name: form.cleaned_data[name] for name in form.changed_data if name != "reason"}
            try:
                actions.injection_correct(
                    injection=injection,
                    data=changed,
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                    confirmed=form.confirmed,
                )
            except NeedsConfirmation as question:
                form.ask(question)
            except ValidationError as error:
                forms.add_service_errors(form, error)
            else:
                messages.success(request, f"Injection of {timezone.localtime(injection.given_at):%d %b %Y} corrected.")
                return redirect("patient_detail", patient_id=patient.pk)
    else:
        form = forms.InjectionCorrectForm(initial=initial)
    return render(
        request,
        "patients/correct_form.html",
        {"patient": patient, "form": form, "entry": injection, "kind": "injection", "title": "Correct an injection"},
    )


def lab_correct(request: HttpRequest, patient_id: int, lab_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission="patients.change_labresult")
    lab = _entry(LabResult, patient, lab_id)
    initial = {
        "analyte": lab.analyte,
        "value": f"{lab.value_entered.normalize():f}",
        "unit": lab.unit_entered,
        "collected_on": lab.collected_on,
    }
    if request.method == "POST":
        form = forms.LabResultCorrectForm(request.POST, initial=initial)
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.lab_result_correct(
                    lab=lab,
                    value=data["value"],
                    unit=data["unit"],
                    collected_on=data["collected_on"],
                    by=request.user,
                    reason=data["reason"],
                    confirmed=form.confirmed,
                )
            except NeedsConfirmation as question:
                form.ask(question)
            except ValidationError as error:
                forms.add_service_errors(form, error)
            else:
                messages.success(request, f"{lab.get_analyte_display()} of {lab.collected_on:%d %b %Y} corrected.")
                return redirect("patient_detail", patient_id=patient.pk)
    else:
        form = forms.LabResultCorrectForm(initial=initial)
    return render(
        request,
        "patients/correct_form.html",
        {
            "patient": patient,
            "form": form,
            "entry": lab,
            "kind": "lab",
            "title": "Correct a lab result",
            "analyte_units": forms.analyte_units_json(),
        },
    )


def _void(request: HttpRequest, patient: Patient, entry: Injection | LabResult, kind: str) -> HttpResponse:
    """Mark an entry entered in error, with a reason: it stays on the chart, struck through."""
    if request.method == "POST":
        form = forms.VoidForm(request.POST)
        if form.is_valid():
            try:
                if kind == "injection":
                    actions.injection_void(injection=entry, by=request.user, reason=form.cleaned_data["reason"])
                else:
                    actions.lab_result_void(lab=entry, by=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as error:
                forms.add_service_errors(form, error)
            else:
                messages.success(request, "Marked as entered in error. It stays on the chart, struck through.")
                return redirect("patient_detail", patient_id=patient.pk)
    else:
        form = forms.VoidForm()
    return render(
        request,
        "patients/void_form.html",
        {"patient": patient, "form": form, "entry": entry, "kind": kind, "title": "Mark as entered in error"},
    )


def injection_void(request: HttpRequest, patient_id: int, injection_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission="patients.change_injection")
    return _void(request, patient, _entry(Injection, patient, injection_id), "injection")


def lab_void(request: HttpRequest, patient_id: int, lab_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission="patients.change_labresult")
    return _void(request, patient, _entry(LabResult, patient, lab_id), "lab")


def _with_regimen() -> Any:
    return Patient.objects.select_related("regimen__profile")


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
                    confirmed=form.confirmed,
                )
            except NeedsConfirmation as question:
                form.ask(question)
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
