"""The unmatched-results queue: list, one result with its message, match, register, reject. Each view:
access check, one selector or action, render or redirect."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.clinics import clinics_of
from audit.services import note_patients
from labs_in import actions, selectors
from labs_in.forms import MatchForm, RejectForm
from labs_in.models import ReceivedResult, ResultStatus
from patients.access import VIEW_PATIENT, require
from patients.forms import PatientRegistrationForm, add_service_errors
from patients.models import Patient
from patients.plausibility import NeedsConfirmation


def _result(request: HttpRequest, result_id: int) -> ReceivedResult:
    require(request.user, VIEW_PATIENT)
    result = selectors.queued_result(clinics=clinics_of(request.user), result_id=result_id)
    if result is None:
        raise Http404("No such result in your clinics.")
    note_patients(request, [result.patient_id])
    return result


def queue(request: HttpRequest) -> HttpResponse:
    require(request.user, VIEW_PATIENT)
    status = request.GET.get("status", ResultStatus.PENDING)
    if status not in ResultStatus.values:
        status = ResultStatus.PENDING
    results = list(selectors.queue(clinics=clinics_of(request.user), status=status))
    note_patients(request, [result.patient_id for result in results])
    return render(
        request, "labs_in/queue.html", {"results": results, "status": status, "statuses": ResultStatus.choices}
    )


def identity_difference(result: ReceivedResult, patient: Patient) -> str:
    """What differs between the patient fields of the message and `patient` ("" when nothing does)."""
    differences = []
    if result.birth_date and result.birth_date != patient.birth_date:
        differences.append(f"born {result.birth_date:%d %b %Y} in the message, {patient.birth_date:%d %b %Y} on record")
    if result.family_name and result.family_name.casefold() != patient.family_name.casefold():
        differences.append(f"named {result.family_name} in the message, {patient.family_name} on record")
    if not differences:
        return ""
    return f"{patient.full_name} ({patient.mrn}) is not quite the patient of the message: {'; '.join(differences)}."


def _detail(
    request: HttpRequest, result: ReceivedResult, match: MatchForm | None = None, reject: RejectForm | None = None
) -> HttpResponse:
    match = match or MatchForm(initial={"mrn": result.mrn, "analyte": result.analyte, "unit": result.unit})
    return render(
        request,
        "labs_in/result.html",
        {"result": result, "match_form": match, "reject_form": reject or RejectForm()},
        status=400 if (match.errors or match.confirmations or (reject and reject.errors)) else 200,
    )


def result_detail(request: HttpRequest, result_id: int) -> HttpResponse:
    return _detail(request, _result(request, result_id))


@require_POST
def result_match(request: HttpRequest, result_id: int) -> HttpResponse:
    result = _result(request, result_id)
    require(request.user, actions.ADD_LABRESULT)
    form = MatchForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        patient = Patient.objects.filter(mrn=data["mrn"].strip(), clinic__in=clinics_of(request.user)).first()
        difference = identity_difference(result, patient) if patient is not None else ""
        if patient is None:
            form.add_error("mrn", "No patient with this record number in your clinics.")
        elif difference and not data["confirm_identity"]:
            form.ask_identity(difference)
        else:
            try:
                actions.received_result_match(
                    result=result,
                    patient=patient,
                    by=request.user,
                    analyte=data["analyte"],
                    unit=data["unit"],
                    confirmed=form.confirmed,
                )
            except NeedsConfirmation as error:
                form.ask(error)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"Recorded for {patient.full_name} ({patient.mrn}).")
                return redirect("labs_in:queue")
    return _detail(request, result, match=form)


@require_POST
def result_reject(request: HttpRequest, result_id: int) -> HttpResponse:
    result = _result(request, result_id)
    require(request.user, actions.ADD_LABRESULT)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            actions.received_result_reject(result=result, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Result rejected.")
            return redirect("labs_in:queue")
    return _detail(request, result, reject=form)


def result_register(request: HttpRequest, result_id: int) -> HttpResponse:
    """The registration page, prefilled from the message (it posts to the ordinary registration);
    the result then waits in the queue to be matched to the new record."""
    result = _result(request, result_id)
    require(request.user, "patients.add_patient")
    sex = {"F": "female", "M": "male"}.get(result.sex.upper(), "")
    initial = {
        "mrn": result.mrn,
        "given_name": result.given_name.title(),
        "family_name": result.family_name.title(),
        "birth_date": result.birth_date,
        "sex": sex,
    }
    form = PatientRegistrationForm(clinics=clinics_of(request.user), initial=initial)
    return render(request, "patients/patient_form.html", {"form": form, "duplicates": []})
