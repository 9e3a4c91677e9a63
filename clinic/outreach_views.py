"""Outreach and appointments: the list of patients to call back to care, a call's outcome, booking,
rescheduling and cancelling, a clinic's day of appointments and the outreach report. Nurses and the
call-centre role (outreach.access: no clinical record needed). Each view: access check, parse, one
action or selector, render or redirect."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.clinics import clinics_of
from audit.services import note_patients
from clinic import actions
from clinic.spreadsheets import csv_response
from outreach import measures, selectors
from outreach.access import appointment_for, outreach_patient_for
from outreach.forms import AppointmentBookForm, AppointmentCancelForm, AppointmentRescheduleForm, ContactAttemptForm
from outreach.models import Appointment, AppointmentKind, ContactOutcome
from outreach.services import ADD_APPOINTMENT, ADD_CONTACT_ATTEMPT, CHANGE_APPOINTMENT, local_day
from patients.access import require
from patients.forms import add_service_errors
from patients.models import DischargeReason, Patient

CHANGE_PATIENT = "patients.change_patient"
# The outcome of a call that leads a nurse to the discharge, with its reason.
DISCHARGE_REASONS = {
    ContactOutcome.MOVED_AWAY: DischargeReason.MOVED_AWAY,
    ContactOutcome.DECEASED: DischargeReason.DECEASED,
}
REPORT_MONTHS = 12


def _local(appointment: Appointment) -> datetime.datetime:
    return appointment.starts_at.astimezone(appointment.patient.clinic.zone)


def _when(appointment: Appointment) -> str:
    local = _local(appointment)
    return f"{local:%A} {local.day} {local:%b %Y at %H:%M}"


# The outreach list and calls ---------------------------------------------------------------------------


def outreach_list(request: HttpRequest) -> HttpResponse:
    require(request.user, roles.WORK_OUTREACH)
    board = selectors.outreach_list(today=timezone.localdate(), clinics=clinics_of(request.user))
    note_patients(request, board.patient_ids())
    return render(
        request,
        "outreach/outreach_list.html",
        {"board": board, "form": ContactAttemptForm(), "outcomes": ContactOutcome.choices},
    )


def contact_attempt_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Record a call: the outcome (one click on the list), an optional note and the day to call again.
    Then: "reached, booked" goes on to the booking; "moved away" and "deceased" to the discharge (a
    nurse), with that reason; anything else back to the list."""
    patient = outreach_patient_for(request.user, patient_id, permission=ADD_CONTACT_ATTEMPT)
    note_patients(request, [patient.pk])
    form = ContactAttemptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            attempt = actions.contact_attempt_record(patient=patient, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{patient.full_name}: {attempt.get_outcome_display().lower()} recorded.")
            return _after_call(request, patient, attempt.outcome)
    return render(request, "outreach/contact_attempt_form.html", {"patient": patient, "form": form}, status=200)


def _after_call(request: HttpRequest, patient: Patient, outcome: str) -> HttpResponse:
    if outcome == ContactOutcome.REACHED_BOOKED and request.user.has_perm(ADD_APPOINTMENT):
        kind = request.POST.get("kind", "")
        query = f"?kind={kind}" if kind in AppointmentKind.values else ""
        return redirect(reverse("appointment_book", args=[patient.pk]) + query)
    if outcome in DISCHARGE_REASONS:
        if request.user.has_perm(CHANGE_PATIENT):
            return redirect(reverse("patient_discharge", args=[patient.pk]) + f"?reason={DISCHARGE_REASONS[outcome]}")
        messages.info(request, f"{patient.full_name} waits on the outreach list for a nurse to discharge them.")
    return redirect("outreach_list")


# Appointments ----------------------------------------------------------------------------------------


def appointment_book(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Book the next injection or recheck; the form starts at the suggestion (the least busy day of the
    window the care status allows, outreach.rules), and the window's days are shown with their load."""
    patient = outreach_patient_for(request.user, patient_id, permission=ADD_APPOINTMENT)
    note_patients(request, [patient.pk])
    kind = request.POST.get("kind") or request.GET.get("kind") or AppointmentKind.INJECTION
    if kind not in AppointmentKind.values:
        kind = AppointmentKind.INJECTION
    # Tomorrow at the clinic, wherever the server is.
    today = local_day(timezone.now(), patient.clinic)
    suggestion = selectors.booking_suggestion(patient=patient, kind=kind, today=today)
    if request.method == "POST":
        form = AppointmentBookForm(request.POST)
        if form.is_valid():
            try:
                appointment = actions.appointment_book(
                    patient=patient,
                    kind=form.cleaned_data["kind"],
                    starts_at=form.starts_at(patient.clinic.zone),
                    by=request.user,
                )
            except ValidationError as error:
                add_service_errors(form, error, rename={"starts_at": "day"})
            else:
                messages.success(
                    request,
                    f"{patient.full_name}: {appointment.get_kind_display().lower()} booked on {_when(appointment)}.",
                )
                return redirect(reverse("appointment_day") + f"?day={_local(appointment).date():%Y-%m-%d}")
    else:
        form = AppointmentBookForm(initial={"kind": kind, "day": suggestion.day, "time": suggestion.time})
    return render(
        request,
        "outreach/appointment_book.html",
        {
            "patient": patient,
            "form": form,
            "suggestion": suggestion,
            "open": selectors.open_appointments(patient),
            "kinds": AppointmentKind.choices,
        },
    )


def appointment_reschedule(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_for(request.user, appointment_id, permission=CHANGE_APPOINTMENT)
    patient = appointment.patient
    note_patients(request, [patient.pk])
    local = _local(appointment)
    form = AppointmentRescheduleForm(request.POST or None, initial={"day": local.date(), "time": local.time()})
    if request.method == "POST" and form.is_valid():
        try:
            actions.appointment_reschedule(
                appointment=appointment,
                starts_at=form.starts_at(patient.clinic.zone),
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except ValidationError as error:
            add_service_errors(form, error, rename={"starts_at": "day", "__all__": "__all__"})
        else:
            messages.success(request, f"{patient.full_name}: moved to {_when(appointment)}.")
            return redirect(reverse("appointment_day") + f"?day={_local(appointment).date():%Y-%m-%d}")
    return render(
        request,
        "outreach/appointment_change.html",
        {
            "appointment": appointment,
            "patient": patient,
            "form": form,
            "when": _when(appointment),
            "title": "Reschedule",
        },
    )


def appointment_cancel(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_for(request.user, appointment_id, permission=CHANGE_APPOINTMENT)
    patient = appointment.patient
    note_patients(request, [patient.pk])
    form = AppointmentCancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.appointment_cancel(appointment=appointment, reason=form.cleaned_data["reason"], by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{patient.full_name}: appointment of {_when(appointment)} cancelled.")
            return redirect(reverse("appointment_day") + f"?day={_local(appointment).date():%Y-%m-%d}")
    return render(
        request,
        "outreach/appointment_change.html",
        {"appointment": appointment, "patient": patient, "form": form, "when": _when(appointment), "title": "Cancel"},
    )


def appointment_day(request: HttpRequest) -> HttpResponse:
    """A day of each of the user's clinics: who is booked, who came, who did not (times at the clinic)."""
    require(request.user, roles.VIEW_APPOINTMENT)
    try:
        day = datetime.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate()
    days = selectors.clinic_days(day=day, clinics=clinics_of(request.user))
    note_patients(request, [a.patient_id for clinic_day in days for a in clinic_day.appointments])
    return render(
        request,
        "outreach/appointment_day.html",
        {
            "day": day,
            "days": days,
            "previous": day - datetime.timedelta(days=1),
            "next": day + datetime.timedelta(days=1),
            "today": timezone.localdate(),
        },
    )


# The report ------------------------------------------------------------------------------------------


def outreach_report(request: HttpRequest) -> HttpResponse:
    """The outreach measures per clinic and month (outreach.measures), a plot and a CSV. Counts only:
    no patient is named, so the programme role sees it too."""
    require(request.user, roles.VIEW_OUTREACH_MEASURES)
    today = timezone.localdate()
    result = measures.measures_for(clinics=clinics_of(request.user), since=measures.report_since(today, REPORT_MONTHS))
    if request.GET.get("format") == "csv":
        rows = [[f"{row.month:%Y-%m}", row.clinic_name, *row.values().values()] for row in result.rows]
        return csv_response(f"outreach-{today:%Y-%m-%d}.csv", ["month", "clinic", *measures.MEASURES], rows)
    plot = {
        "labels": [f"{month:%b %Y}" for month in result.months()],
        "series": [
            {"label": measures.LABELS[name], "data": [result.total(month)[name] for month in result.months()]}
            for name in ("calls", "reached", "booked", "returned", "still_lost")
        ],
    }
    return render(
        request,
        "outreach/report.html",
        {
            "result": result,
            "labels": measures.LABELS,
            "names": measures.MEASURES,
            "totals": result.total(),
            "plot": plot,
            "return_days": measures.RETURN_DAYS,
        },
    )
