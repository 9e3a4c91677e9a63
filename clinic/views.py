"""The nurse's worklist, the physician's dashboard and decisions. Each view: access check, parse, one
selector or service, render or redirect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import roles
from accounts.clinics import clinics_of
from audit.services import note_patients
from care import selectors
from care.models import CareAlert
from clinic import actions, extensions, forms
from outreach.measures import recent_measures
from patients.access import VIEW_PATIENT, patient_for, require
from patients.forms import add_service_errors
from patients.models import CauseKind, Patient
from protocols.engine.rules import RULES
from reminders.selectors import reminders_failed_count


def home(request: HttpRequest) -> HttpResponse:
    """Physicians start on the dashboard, the programme role on its clinics' numbers, the call centre on
    the outreach list, everyone else on today's worklist."""
    if not request.user.has_perm(VIEW_PATIENT) and request.user.has_perm(roles.VIEW_PROGRAMME):
        return redirect("programme")
    if not request.user.has_perm(VIEW_PATIENT) and request.user.has_perm(roles.WORK_OUTREACH):
        return redirect("outreach_list")  # the call centre
    require(request.user, VIEW_PATIENT)
    return redirect("dashboard" if request.user.has_perm(roles.MAKE_DECISION) else "worklist")


def worklist(request: HttpRequest) -> HttpResponse:
    require(request.user, VIEW_PATIENT)
    limit = None if request.GET.get("all") == "1" else selectors.WORKLIST_LIMIT
    worklist = selectors.worklist(today=timezone.localdate(), clinics=clinics_of(request.user), limit=limit)
    note_patients(request, [row.status.patient_id for row in (*worklist.injections, *worklist.rechecks)])
    counts = extensions.dashboard_counts(clinics=clinics_of(request.user))
    return render(request, "clinic/worklist.html", {"worklist": worklist, "extension_counts": counts})


def dashboard(request: HttpRequest) -> HttpResponse:
    require(request.user, VIEW_PATIENT)
    filters = selectors.DashboardFilters.parse(request.GET)
    limit = None if request.GET.get("all") == "1" else selectors.LIST_LIMIT
    clinics = clinics_of(request.user)
    loaded = list(clinics)  # once: the statements take the clinics' ids, the outreach card their zones
    board = selectors.dashboard(today=timezone.localdate(), clinics=loaded, filters=filters, limit=limit)
    note_patients(request, board.patient_ids())
    return render(
        request,
        "clinic/dashboard.html",
        {
            "board": board,
            "alert_choices": [(rule, RULES[rule].text) for rule in selectors.ALERT_RULES],
            "cause_choices": CauseKind.choices,
            "reminders_failed_count": reminders_failed_count(clinics=loaded),
            "extension_counts": extensions.dashboard_counts(clinics=loaded),
            "outreach": recent_measures(clinics=loaded, today=timezone.localdate()),
        },
    )


def programme(request: HttpRequest) -> HttpResponse:
    """The programme's numbers: each clinic the user may see, with the dashboard's and the worklist's
    counts (the same functions, one clinic at a time). No patient names, no links to a record."""
    require(request.user, roles.VIEW_PROGRAMME)
    today = timezone.localdate()
    rows = [
        {
            "clinic": clinic,
            "patients": clinic.active_patients,
            "worklist": selectors.worklist_counts(today=today, clinics=[clinic]),
            "dashboard": selectors.dashboard_counts(today=today, clinics=[clinic]),
        }
        for clinic in selectors.programme_clinics(clinics_of(request.user))
    ]
    totals = {
        group: {key: sum(row[group][key] for row in rows) for key in (rows[0][group] if rows else {})}
        for group in ("worklist", "dashboard")
    }
    totals["patients"] = sum(row["patients"] for row in rows)
    return render(request, "clinic/programme.html", {"rows": rows, "totals": totals, "today": today})


# Decisions -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionPage:
    title: str
    form: type[django_forms.Form]
    action: Callable[..., Any]
    done: str
    button: str = "Record the decision"
    # The action's keyword arguments from the form's cleaned data, and its argument names back to fields.
    arguments: Callable[[dict[str, Any]], dict[str, Any]] = dict
    rename: dict[str, str] = field(default_factory=dict)


DECISIONS: dict[str, DecisionPage] = {
    "interval": DecisionPage(
        "Set the maintenance interval",
        forms.IntervalForm,
        actions.decision_set_interval,
        "Interval set.",
        arguments=forms.interval_arguments,
        rename={"months": "every", "days": "every"},
    ),
    "clear-interval": DecisionPage(
        "Clear the physician-set interval",
        forms.ReasonForm,
        actions.decision_clear_interval,
        "Back to the protocol's interval.",
    ),
    "approve-oral": DecisionPage(
        "Approve the switch to oral therapy",
        forms.OralSwitchForm,
        actions.decision_approve_oral_switch,
        "Switch to oral therapy approved.",
        "Approve the switch",
    ),
    "recheck": DecisionPage(
        "Set the date of the next recheck",
        forms.RecheckDateForm,
        actions.decision_set_recheck_date,
        "Recheck date set.",
    ),
    "clear-recheck": DecisionPage(
        "Clear the physician-set recheck date",
        forms.ReasonForm,
        actions.decision_clear_recheck_date,
        "Back to the recheck the protocol gives.",
    ),
    "resume-injections": DecisionPage(
        "Resume injections",
        forms.ReasonForm,
        actions.decision_resume_injections,
        "Injections resumed: the injection schedule applies again.",
        "Resume injections",
    ),
    "decline-oral": DecisionPage(
        "Decline the switch to oral therapy",
        forms.ReasonForm,
        actions.decision_decline_oral_switch,
        "Switch to oral therapy declined: injections continue.",
        "Decline the switch",
    ),
    "acknowledge": DecisionPage(
        "Acknowledge an alert", forms.AcknowledgeForm, actions.decision_acknowledge_alert, "Alert acknowledged."
    ),
}


def _decision_form(page: DecisionPage, patient: Patient, data: Any = None, initial: Any = None) -> django_forms.Form:
    if page.form is forms.AcknowledgeForm:
        return forms.AcknowledgeForm(data, initial=initial, alerts=CareAlert.objects.filter(patient=patient))
    return page.form(data, initial=initial)


def decision_create(request: HttpRequest, patient_id: int, kind: str) -> HttpResponse:
    """GET shows the decision's form, POST makes it. Only users with patients.make_decision reach
    either (403 for nurses, whatever the page showed them); the service checks again."""
    page = DECISIONS.get(kind)
    if page is None:
        raise Http404("No such decision.")
    patient = patient_for(
        request.user,
        patient_id,
        permission=roles.MAKE_DECISION,
        queryset=Patient.objects.select_related("regimen__profile", "care_status"),
    )
    if request.method == "POST":
        form = _decision_form(page, patient, request.POST)
        if form.is_valid():
            try:
                page.action(patient=patient, by=request.user, **page.arguments(form.cleaned_data))
            except ValidationError as error:
                add_service_errors(form, error, rename=page.rename)
            else:
                messages.success(request, f"{patient.full_name}: {page.done}")
                return redirect("patient_detail", patient_id=patient.pk)
    else:
        initial = {"since": timezone.localdate(), "alert_rule": request.GET.get("alert", "")}
        form = _decision_form(page, patient, initial=initial)
    return render(
        request,
        "clinic/decision_form.html",
        {"patient": patient, "page": page, "kind": kind, "form": form, "status": getattr(patient, "care_status", None)},
    )
