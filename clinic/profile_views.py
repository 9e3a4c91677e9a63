"""Protocol profiles for a clinic admin: edit a draft, preview what it would change, publish or discard.

Every page asks for roles.CHANGE_PROFILE (clinic admins). The counts of a preview cover every patient
on the profile (a profile serves every clinic of the programme, and publishing re-evaluates them all);
the list of patients and its CSV show only the patients of the user's clinics, and are access-logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.clinics import clinics_of
from audit.models import AccessEvent
from audit.services import access_event_log, note_patients
from care.models import ProfileRun, Verdict
from clinic import actions
from clinic.spreadsheets import csv_response
from patients.forms import add_service_errors
from patients.models import Patient
from protocols.engine.profiles import SETTING_NAMES
from protocols.models import ProtocolProfile, ProtocolProfileDraft

LIST_LIMIT = 200
MOVES = {"earlier": "earlier", "later": "later", "added": "now set", "removed": "no longer set", "": ""}

editor_only = permission_required(roles.CHANGE_PROFILE, raise_exception=True)


class DraftForm(forms.ModelForm):
    class Meta:
        model = ProtocolProfileDraft
        fields = list(SETTING_NAMES)


def _profile(slug: str) -> ProtocolProfile:
    return get_object_or_404(ProtocolProfile, slug=slug)


def _draft(profile: ProtocolProfile) -> ProtocolProfileDraft | None:
    return ProtocolProfileDraft.objects.filter(profile=profile).select_related("profile", "created_by").first()


@editor_only
def profile_list(request: HttpRequest) -> HttpResponse:
    profiles = ProtocolProfile.objects.select_related("draft").order_by("name")
    return render(request, "clinic/profiles.html", {"profiles": profiles})


@editor_only
def draft_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """The draft's form: the draft being edited, or the settings in force (nothing is saved until
    the form is)."""
    profile = _profile(slug)
    draft = _draft(profile)
    instance = draft or ProtocolProfileDraft(
        profile=profile, based_on_version=profile.version, **{name: getattr(profile, name) for name in SETTING_NAMES}
    )
    form = DraftForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            settings = {name: form.cleaned_data[name] for name in SETTING_NAMES}
            actions.protocol_profile_draft_edit(profile=profile, settings=settings, by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "The draft is saved. It is not in force until you publish it.")
            return redirect("profile_draft", slug=profile.slug)
    return render(request, "clinic/profile_draft_form.html", {"profile": profile, "draft": draft, "form": form})


def _latest_preview(draft: ProtocolProfileDraft) -> ProfileRun | None:
    """The latest preview of the draft exactly as it is now, against the version in force."""
    settings = draft.setting_values()
    for run in ProfileRun.objects.filter(
        profile=draft.profile, kind=ProfileRun.Kind.PREVIEW, version=draft.profile.version
    ).defer("changes")[:20]:
        if run.settings == settings:
            return run
    return None


@editor_only
def draft_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The draft's changes, its latest preview (or the button to make one), publish and discard."""
    profile = _profile(slug)
    draft = _draft(profile)
    if draft is None:
        return redirect("profile_draft_edit", slug=profile.slug)
    preview = _latest_preview(draft)
    if preview is not None:
        return redirect("profile_run", run_id=preview.pk)
    return render(
        request,
        "clinic/profile_draft.html",
        {"profile": profile, "draft": draft, "changed": draft.changed_settings()},
    )


@require_POST
@editor_only
def draft_preview(request: HttpRequest, slug: str) -> HttpResponse:
    draft = _draft(_profile(slug))
    if draft is None:
        return redirect("profile_list")
    run = actions.protocol_profile_preview(draft=draft, by=request.user)
    return redirect("profile_run", run_id=run.pk)


@require_POST
@editor_only
def draft_publish(request: HttpRequest, slug: str) -> HttpResponse:
    profile = _profile(slug)
    draft = _draft(profile)
    if draft is None:
        return redirect("profile_list")
    try:
        run = actions.protocol_profile_draft_publish(draft=draft, by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("profile_draft", slug=profile.slug)
    messages.success(request, f"Version {run.version} of {profile.name} is in force; its patients are re-evaluated.")
    return redirect("profile_run", run_id=run.pk)


@require_POST
@editor_only
def draft_discard(request: HttpRequest, slug: str) -> HttpResponse:
    profile = _profile(slug)
    draft = _draft(profile)
    if draft is not None:
        actions.protocol_profile_draft_discard(draft=draft, by=request.user)
        messages.success(request, f"The draft of {profile.name} is discarded; nothing changed.")
    return redirect("profile_list")


# A run: the preview's counts and patients, or the re-evaluation's progress -------------------------


@dataclass(frozen=True)
class ChangedPatient:
    patient: Patient
    row: dict[str, Any]

    @property
    def injection_move(self) -> str:
        return MOVES[self.row["next_injection"]]

    @property
    def recheck_move(self) -> str:
        return MOVES[self.row["next_recheck"]]

    @property
    def verdict(self) -> str:
        old, new = self.row["verdict"] or ("", "")
        return f"{_verdict(old)} → {_verdict(new)}" if old else ""


def _verdict(value: str) -> str:
    return str(Verdict(value).label) if value in Verdict.values else value


def _visible_changes(request: HttpRequest, run: ProfileRun, limit: int | None) -> tuple[list[ChangedPatient], int]:
    """The run's changed patients in the user's clinics, by name (the first `limit`), and how many
    there are. The ids are matched in Python against the profile's patients of those clinics: a run
    may list tens of thousands, too many for one `IN (...)`."""
    rows = {row["patient"]: row for row in run.changes}
    mine = Patient.objects.filter(regimen__profile=run.profile, clinic__in=clinics_of(request.user))
    named = sorted(
        (family, given, pk) for pk, family, given in mine.values_list("pk", "family_name", "given_name") if pk in rows
    )
    chosen = [pk for _, _, pk in (named if limit is None else named[:limit])]
    patients: dict[int, Patient] = {}
    for start in range(0, len(chosen), 500):
        batch = Patient.objects.filter(pk__in=chosen[start : start + 500]).select_related("clinic")
        patients.update({patient.pk: patient for patient in batch})
    return [ChangedPatient(patients[pk], rows[pk]) for pk in chosen], len(named)


def _run(run_id: int) -> ProfileRun:
    return get_object_or_404(ProfileRun.objects.select_related("profile", "by"), pk=run_id)


def _run_context(request: HttpRequest, run: ProfileRun) -> dict[str, Any]:
    draft = _draft(run.profile)
    current = (
        run.kind == ProfileRun.Kind.PREVIEW
        and draft is not None
        and run.version == run.profile.version
        and run.settings == draft.setting_values()
    )
    return {
        "run": run,
        "profile": run.profile,
        "draft": draft,
        "current": current,
        "changed": draft.changed_settings() if current and draft else [],
    }


@editor_only
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run(run_id)
    context = _run_context(request, run)
    if run.status == ProfileRun.Status.DONE and run.kind == ProfileRun.Kind.PREVIEW:
        changes, visible = _visible_changes(request, run, LIST_LIMIT)
        note_patients(request, [c.patient.pk for c in changes])
        context.update(changes=changes, visible=visible, limit=LIST_LIMIT)
    return render(request, "clinic/profile_run.html", context)


@editor_only
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress bar htmx polls; once the run is finished, the whole page is loaded again."""
    run = _run(run_id)
    if run.finished:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "clinic/_profile_run_progress.html", {"run": run})


CSV_HEADERS = (
    "mrn",
    "last_name",
    "first_name",
    "clinic",
    "in_care",
    "next_injection_before",
    "next_injection_after",
    "next_injection",
    "next_recheck_before",
    "next_recheck_after",
    "next_recheck",
    "verdict_before",
    "verdict_after",
    "alerts_appear",
    "alerts_disappear",
)


@editor_only
def run_csv(request: HttpRequest, run_id: int) -> HttpResponse:
    """Every changed patient of the user's clinics, as CSV (cells neutralised: clinic.spreadsheets)."""
    run = _run(run_id)
    changes, _ = _visible_changes(request, run, None)
    rows = (
        [
            c.patient.mrn,
            c.patient.family_name,
            c.patient.given_name,
            c.patient.clinic.name,
            c.patient.is_active,
            c.row["before"]["next_injection_due"],
            c.row["after"]["next_injection_due"],
            c.row["next_injection"],
            c.row["before"]["next_recheck_due"],
            c.row["after"]["next_recheck_due"],
            c.row["next_recheck"],
            c.row["before"]["verdict"],
            c.row["after"]["verdict"],
            " ".join(c.row["alerts_added"]),
            " ".join(c.row["alerts_removed"]),
        ]
        for c in changes
    )
    access_event_log(
        kind=AccessEvent.Kind.READ,
        request=request,
        user=request.user,
        patient_ids={c.patient.pk for c in changes},
        detail=f"export protocol preview {run.pk} of {run.profile.slug}",
    )
    return csv_response(f"preview-{run.profile.slug}-{timezone.localdate():%Y-%m-%d}.csv", CSV_HEADERS, rows)
