"""The patient's journey in the staff app: registration, the patient's details, causes and profile,
lab panels, discharge and re-admission. Each view: access check, parse a form, one action, render
or redirect; refused input comes back with what was typed and the field named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.clinics import clinics_of
from clinic import actions
from clinic.templatetags.clinic_tags import readable_date
from patients import forms
from patients import selectors as record_selectors
from patients.access import patient_for, require
from patients.models import Cause, Patient

ADD_PATIENT = "patients.add_patient"
CHANGE_PATIENT = "patients.change_patient"


def _simple_form(request: HttpRequest, patient: Patient, form: Any, title: str, **extra: Any) -> HttpResponse:
    return render(request, "patients/journey_form.html", {"patient": patient, "form": form, "title": title, **extra})


def _submitted(
    request: HttpRequest,
    patient: Patient,
    form: Any,
    act: Callable[[dict[str, Any]], object],
    done: Callable[[Any], str],
) -> HttpResponse | None:
    """A posted, valid form's one action; on success its message and back to the chart. None when the
    form is to be shown (again): not posted, invalid, or refused by the action (its errors on the form)."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        result = act(form.cleaned_data)
    except ValidationError as error:
        forms.add_service_errors(form, error)
        return None
    messages.success(request, done(result))
    return redirect("patient_detail", patient_id=patient.pk)


# Registration --------------------------------------------------------------------------------------


def patient_create(request: HttpRequest) -> HttpResponse:
    """Register a referral. A patient of the same name and birth date already on record is shown,
    with a link, and registering anyway takes a tick that the history records."""
    require(request.user, ADD_PATIENT)
    clinics = clinics_of(request.user)
    duplicates: list[Patient] = []
    if request.method == "POST":
        form = forms.PatientRegistrationForm(request.POST, clinics=clinics)
        if form.is_valid():
            data = form.cleaned_data
            duplicates = record_selectors.patients_like(
                given_name=data["given_name"],
                family_name=data["family_name"],
                birth_date=data["birth_date"],
                clinics=clinics,
            )
            if duplicates and not data["confirm_duplicate"]:
                form.ask_confirmation()
                form.add_error("confirm_duplicate", "Check the patient below first, or tick this box to go on.")
            else:
                reason = None
                if duplicates:
                    others = ", ".join(p.mrn for p in duplicates)
                    reason = f"Registered although a patient of the same name and birth date exists ({others})."
                try:
                    patient = actions.patient_create(
                        **{key: value for key, value in data.items() if key != "confirm_duplicate"},
                        by=request.user,
                        reason=reason,
                    )
                except ValidationError as error:
                    forms.add_service_errors(form, error)
                else:
                    messages.success(request, f"{patient.full_name} ({patient.mrn}) registered.")
                    return redirect("patient_detail", patient_id=patient.pk)
        if duplicates:
            form.ask_confirmation()
    else:
        form = forms.PatientRegistrationForm(clinics=clinics)
    return render(request, "patients/patient_form.html", {"form": form, "duplicates": duplicates})


# The patient's details -----------------------------------------------------------------------------


def patient_contact_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission=CHANGE_PATIENT)
    initial = {name: getattr(patient, name) for name in ("email", "phone", "email_reminders_consent")}
    form = forms.PatientContactForm(request.POST or None, initial=initial)
    return _submitted(
        request,
        patient,
        form,
        lambda data: actions.patient_update_contact(patient=patient, by=request.user, **data),
        lambda _: f"Contact details of {patient.full_name} saved.",
    ) or _simple_form(request, patient, form, "Contact details")


def patient_clinical_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission=roles.MAKE_DECISION)
    initial = {
        name: getattr(patient, name) for name in ("neurological_involvement", "pregnancy", "dietary_intake_adequate")
    }
    form = forms.PatientClinicalForm(request.POST or None, initial=initial)
    return _submitted(
        request,
        patient,
        form,
        lambda data: actions.patient_set_clinical_flags(patient=patient, by=request.user, **data),
        lambda _: f"Clinical details of {patient.full_name} saved.",
    ) or _simple_form(request, patient, form, "Clinical details")


def profile_change(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(
        request.user, patient_id, permission=roles.CHANGE_REGIMEN, queryset=Patient.objects.select_related("regimen")
    )
    form = forms.ProfileForm(request.POST or None, initial={"profile": patient.regimen.profile_id})
    return _submitted(
        request,
        patient,
        form,
        lambda data: actions.regimen_set_profile(regimen=patient.regimen, by=request.user, **data),
        lambda _: f"{patient.full_name} is now on {form.cleaned_data['profile'].name}.",
    ) or _simple_form(request, patient, form, "Protocol profile")


# Causes --------------------------------------------------------------------------------------------


def cause_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission=roles.ADD_CAUSE)
    form = forms.CauseForm(request.POST or None)
    return _submitted(
        request,
        patient,
        form,
        lambda data: actions.cause_add(
            patient=patient, kind=data["kind"], reason=data["reason"], by=request.user, **form.details()
        ),
        lambda cause: f"Cause recorded: {cause}.",
    ) or _simple_form(request, patient, form, "Record a cause", script="js/cause_form.js")


def cause_edit(request: HttpRequest, patient_id: int, cause_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission=roles.CHANGE_CAUSE)
    cause = get_object_or_404(Cause, pk=cause_id, patient=patient)
    initial = {name: getattr(cause, name) for name in forms.CauseForm.DETAIL_FIELDS}
    form = forms.CauseForm(request.POST or None, initial=initial, fixed_kind=cause.kind)
    remove = forms.CauseRemoveForm() if request.user.has_perm(roles.DELETE_CAUSE) else None
    return _submitted(
        request,
        patient,
        form,
        lambda data: actions.cause_update(cause=cause, data=form.details(), reason=data["reason"], by=request.user),
        lambda _: f"Cause changed: {cause}.",
    ) or _simple_form(
        request, patient, form, f"Change the cause: {cause}", script="js/cause_form.js", cause=cause, remove_form=remove
    )


def cause_remove(request: HttpRequest, patient_id: int, cause_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission=roles.DELETE_CAUSE)
    cause = get_object_or_404(Cause, pk=cause_id, patient=patient)
    form = forms.CauseRemoveForm(request.POST or None)
    return _submitted(
        request,
        patient,
        form,
        lambda data: actions.cause_remove(cause=cause, by=request.user, reason=data["reason"]),
        lambda _: f"Cause removed: {cause}. The history keeps it, with your reason.",
    ) or _simple_form(request, patient, form, f"Remove the cause: {cause}", button="Remove the cause")


# Lab panels ----------------------------------------------------------------------------------------


def _panel_to_draw(patient: Patient) -> list[str]:
    """The analytes the panel offers first: the recheck's labs still to draw, else B12 alone."""
    status = getattr(patient, "care_status", None)
    return list(status.labs_to_draw) if status is not None and status.labs_to_draw else ["b12"]


def lab_panel_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(
        request.user,
        patient_id,
        permission="patients.add_labresult",
        queryset=Patient.objects.select_related("care_status"),
    )
    to_draw = _panel_to_draw(patient)
    if request.method == "POST":
        form = forms.LabPanelForm(request.POST, to_draw=to_draw)
        if form.is_valid():
            try:
                saved = actions.lab_panel_record(
                    patient=patient,
                    collected_on=form.cleaned_data["collected_on"],
                    results=form.results(),
                    not_drawn=form.not_drawn(),
                    notes=form.cleaned_data["notes"],
                    entered_by=request.user,
                )
            except ValidationError as error:
                forms.add_service_errors(form, _renamed(error, form))
            else:
                skipped = len(form.not_drawn())
                messages.success(
                    request,
                    f"{len(saved)} lab result{'s' if len(saved) != 1 else ''} saved for {patient.full_name} "
                    f"(collected {readable_date(form.cleaned_data['collected_on'])})"
                    + (f"; {skipped} recorded as not drawn." if skipped else "."),
                )
                return redirect(_safe_next(request.POST.get("next")) or reverse("patient_detail", args=[patient.pk]))
    else:
        form = forms.LabPanelForm(to_draw=to_draw, initial={"collected_on": timezone.localdate()})
    return render(
        request,
        "patients/lab_panel_form.html",
        {
            "patient": patient,
            "form": form,
            "analyte_units": forms.analyte_units_json(),
            "next": _safe_next(request.POST.get("next") or request.GET.get("next")),
        },
    )


def _safe_next(target: str | None) -> str:
    """A path on this site to go back to (the worklist), never another host."""
    return target if target and target.startswith("/") and not target.startswith("//") else ""


def _renamed(error: ValidationError, form: forms.LabPanelForm) -> ValidationError:
    return ValidationError(
        {form.service_field(name): messages for name, messages in error.message_dict.items()}
        if hasattr(error, "error_dict")
        else error.messages
    )


# Discharge and re-admission ------------------------------------------------------------------------


def patient_discharge(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission=CHANGE_PATIENT)
    if not patient.is_active:
        return redirect("patient_detail", patient_id=patient.pk)
    # The outreach list leads here with the reason a call found out ("moved away", "deceased").
    reason = request.GET.get("reason", "")
    initial = {"reason": reason} if reason in Patient.DischargeReason.values else {}
    form = forms.DischargeForm(request.POST or None, initial=initial)
    return _submitted(
        request,
        patient,
        form,
        lambda data: actions.patient_discharge(patient=patient, by=request.user, **data),
        lambda _: (
            f"{patient.full_name} discharged ({patient.get_discharge_reason_display().lower()}); "
            "pending reminders cancelled."
        ),
    ) or _simple_form(request, patient, form, f"Discharge {patient.full_name}", button="Discharge")


def patient_readmit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, permission=CHANGE_PATIENT)
    if patient.is_active:
        return redirect("patient_detail", patient_id=patient.pk)
    form = forms.ReadmitForm(request.POST or None)
    return _submitted(
        request,
        patient,
        form,
        lambda data: actions.patient_readmit(patient=patient, by=request.user, reason=data["reason"]),
        lambda _: f"{patient.full_name} re-admitted: the schedule is back on the worklist.",
    ) or _simple_form(request, patient, form, f"Re-admit {patient.full_name}", button="Re-admit")


# Transfer to another clinic ------------------------------------------------------------------------


def patient_transfer(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Move the patient to another of the user's clinics, with a reason the history keeps (physicians
    and clinic admins on the staff of both clinics, or a superuser)."""
    patient = patient_for(
        request.user, patient_id, permission=roles.TRANSFER_PATIENT, queryset=Patient.objects.select_related("clinic")
    )
    destinations = clinics_of(request.user).exclude(pk=patient.clinic_id)
    form = forms.TransferForm(request.POST or None, clinics=destinations)
    if request.method == "POST" and form.is_valid():
        try:
            actions.patient_transfer(patient=patient, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(request, f"{patient.full_name} transferred to {patient.clinic.name}.")
            # The user may not see the new clinic's patients: the chart of one they can is not certain.
            if clinics_of(request.user).filter(pk=patient.clinic_id).exists():
                return redirect("patient_detail", patient_id=patient.pk)
            return redirect("patient_list")
    return _simple_form(
        request, patient, form, f"Transfer {patient.full_name} from {patient.clinic.name}", button="Transfer"
    )
