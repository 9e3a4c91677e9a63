"""The admin, for clinic admins: the clinical record, physicians' decisions and protocol profiles.

It lives in the application layer because its writes must go through it: every save and delete of a
record the engine reads ends in actions.record_changed (ClinicalFactsAdmin), so the admin cannot
leave a stale care status or an obsolete reminder behind, and a saved profile is published with
actions.protocol_profile_publish (a new version, its patients re-evaluated); an existing profile's
settings are changed through a previewed draft in the staff app (clinic.profile_views), not here. Injections and lab
results may be added but not changed or deleted here: corrections and "entered in error" are made on
the chart (actions injection_correct/injection_void and the lab ones), with a reason. An injection or
lab added here gets the hard limits of patients.plausibility (model clean()), not the soft warnings. Physician decisions (interval override,
oral switch) are made on the chart and are read-only here. History is shown, never reverted
(SIMPLE_HISTORY_REVERT_DISABLED).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from accounts.clinics import clinics_of
from clinic import (
    actions,
    admin_accounts,  # noqa: F401  (the staff accounts admin)
)
from outreach.models import ClinicCapacity
from patients import services as record
from patients.models import (
    Cause,
    Decision,
    Injection,
    LabResult,
    Medication,
    Patient,
    PlausibilityRange,
    Regimen,
    SymptomCheck,
)
from protocols.engine import units
from protocols.engine.profiles import SETTING_NAMES
from protocols.models import ProtocolProfile


def _patient_of(obj: models.Model) -> Patient:
    return obj if isinstance(obj, Patient) else obj.patient  # type: ignore[attr-defined]


class ClinicScopedAdmin(SimpleHistoryAdmin):
    """Only the records of patients of the clinics the user may see (accounts.clinics.clinics_of), in
    lists, searches, autocompletes and change pages (another clinic's record is "not found")."""

    clinic_path = "patient__clinic"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(**{f"{self.clinic_path}__in": clinics_of(request.user)})

    def _require_visible(self, request: HttpRequest, object_id: str) -> None:
        # simple-history shows the history of a row it cannot find through get_queryset: not here.
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404("Not found.")

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context=extra_context)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> Any:
        self._require_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context=extra_context)


class ClinicalFactsAdmin(ClinicScopedAdmin):
    """Calls actions.record_changed after every admin write, in the same transaction. Clinical records
    are never deleted here: corrections and voids go through the app, with a reason."""

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            actions.record_changed(_patient_of(obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AddOnlyAdmin(ClinicalFactsAdmin):
    """Records that may be added here but, once saved, only viewed."""

    # The user-field that defaults to whoever is logged in.
    user_field = ""

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {**super().get_changeform_initial_data(request), self.user_field: request.user.pk}

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Discharge and re-admission are made on the chart (clinic.actions): they cancel and restore reminders.
# The clinic is chosen when adding; a change is a transfer, with a reason, on the chart.
PATIENT_STATE_FIELDS = ("is_active", "discharged_at", "discharge_reason", "discharge_note", "email_opt_out_at")
PATIENT_CREATE_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "email",
    "phone",
    "email_reminders_consent",
    "neurological_involvement",
    "pregnancy",
    "dietary_intake_adequate",
)


class PatientAdminForm(forms.ModelForm):
    # Only when adding: the regimen's profile (actions.patient_create makes the regimen with it).
    profile = forms.ModelChoiceField(
        queryset=ProtocolProfile.objects.filter(is_active=True),
        required=False,
        help_text="Default: the clinic's default profile.",
    )

    class Meta:
        model = Patient
        fields = [
            f.name
            for f in Patient._meta.get_fields()
            if f.concrete and f.editable and not f.auto_created and f.name not in PATIENT_STATE_FIELDS
        ]

    def clean_birth_date(self) -> Any:
        birth_date = self.cleaned_data["birth_date"]
        if birth_date and birth_date > timezone.localdate():
            raise forms.ValidationError("The birth date cannot be in the future.")
        return birth_date

    def clean_clinic(self) -> Any:
        """Left empty by a user of one clinic: that clinic (PatientAdmin limits the choices)."""
        clinic = self.cleaned_data.get("clinic")
        if clinic is None and "clinic" in self.fields:
            choices = list(self.fields["clinic"].queryset[:2])
            if len(choices) != 1:
                raise forms.ValidationError("Choose the clinic the patient belongs to.")
            clinic = choices[0]
        return clinic

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("email_reminders_consent") and not data.get("email"):
            self.add_error("email", "Give an email address to send reminders to.")
        return data


@admin.register(Patient)
class PatientAdmin(ClinicalFactsAdmin):
    form = PatientAdminForm
    clinic_path = "clinic"
    list_display = ["mrn", "family_name", "given_name", "birth_date", "sex", "clinic", "is_active"]
    list_filter = ["is_active", "clinic", "sex", "pregnancy", "neurological_involvement"]
    list_select_related = ["clinic"]
    search_fields = ["mrn", "family_name", "given_name", "email"]
    readonly_fields = ["created_at", "updated_at", *PATIENT_STATE_FIELDS]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:  # the profile is changed on the chart, with a reason
            form.base_fields.pop("profile", None)
        return form

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_fields(request, obj))
        return fields if obj is None else [name for name in fields if name != "profile"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        return fields if obj is None else [*fields, "clinic"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "clinic":
            kwargs["queryset"] = clinics_of(request.user)
            kwargs["required"] = False  # PatientAdminForm.clean_clinic: the user's only clinic
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Patient, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new patient as the app makes one: a regimen, a care status and its reminders, in one action.
        created = actions.patient_create(
            **{name: form.cleaned_data[name] for name in PATIENT_CREATE_FIELDS},
            clinic=form.cleaned_data["clinic"],
            profile=form.cleaned_data.get("profile"),
            by=request.user,
            reason="Registered in the admin",
        )
        obj.pk = created.pk
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
        obj._state.adding = False


@admin.register(Cause)
class CauseAdmin(ClinicalFactsAdmin):
    list_display = ["patient", "kind", "length_cm", "procedure", "start", "stop"]
    list_filter = ["kind"]
    search_fields = ["patient__mrn", "patient__family_name"]
    autocomplete_fields = ["patient"]
    list_select_related = ["patient"]


@admin.register(Regimen)
class RegimenAdmin(ClinicalFactsAdmin):
    list_display = ["patient", "profile", "maintenance_interval_months", "oral_since"]
    list_filter = ["profile"]
    search_fields = ["patient__mrn", "patient__family_name"]
    autocomplete_fields = ["patient"]
    list_select_related = ["patient", "profile"]
    readonly_fields = [
        "maintenance_interval_months",
        "interval_reason",
        "interval_set_by",
        "interval_set_at",
        "oral_since",
    ]


class InjectionAdminForm(forms.ModelForm):
    class Meta:
        model = Injection
        fields = [
            "patient",
            "given_at",
            "drug",
            "dose_mcg",
            "route",
            "site",
            "lot_number",
            "lot_expiry",
            "given_by",
            "notes",
        ]

    def clean_given_at(self) -> Any:
        given_at = self.cleaned_data["given_at"]
        if given_at and given_at > timezone.now():
            raise forms.ValidationError(record.FUTURE_TIME)
        return given_at


@admin.register(Injection)
class InjectionAdmin(AddOnlyAdmin):
    form = InjectionAdminForm
    user_field = "given_by"
    list_display = ["patient", "given_at", "drug", "dose_mcg", "route", "site", "lot_number", "given_by"]
    list_filter = ["drug", "route", "site"]
    search_fields = ["patient__mrn", "patient__family_name", "lot_number"]
    date_hierarchy = "given_at"
    autocomplete_fields = ["patient"]
    list_select_related = ["patient", "given_by"]
    readonly_fields = ["voided_at", "voided_by", "void_reason", "confirmed_warnings"]


class LabResultAdminForm(forms.ModelForm):
    unit_entered = forms.ChoiceField(label="Unit", choices=[(u, u) for u in units.ALL_UNIT_SYMBOLS])

    class Meta:
        model = LabResult
        fields = ["patient", "analyte", "value_entered", "unit_entered", "collected_on", "entered_by", "notes"]

    def clean_collected_on(self) -> Any:
        collected_on = self.cleaned_data["collected_on"]
        if collected_on and collected_on > timezone.localdate():
            raise forms.ValidationError(record.FUTURE_DATE)
        return collected_on


@admin.register(LabResult)
class LabResultAdmin(AddOnlyAdmin):
    form = LabResultAdminForm
    user_field = "entered_by"
    list_display = ["patient", "collected_on", "analyte", "value_entered", "unit_entered", "value_canonical"]
    list_filter = ["analyte"]
    search_fields = ["patient__mrn", "patient__family_name"]
    date_hierarchy = "collected_on"
    autocomplete_fields = ["patient"]
    list_select_related = ["patient"]
    readonly_fields = [
        "value_canonical",
        "unit_canonical",
        "entered_at",
        "voided_at",
        "voided_by",
        "void_reason",
        "confirmed_warnings",
    ]


@admin.register(SymptomCheck)
class SymptomCheckAdmin(ClinicalFactsAdmin):
    list_display = ["patient", "checked_on", "neurological", "depression"]
    list_filter = ["neurological", "depression"]
    search_fields = ["patient__mrn", "patient__family_name"]
    autocomplete_fields = ["patient"]
    list_select_related = ["patient"]


@admin.register(Medication)
class MedicationAdmin(ClinicalFactsAdmin):
    list_display = ["patient", "name", "detail", "start", "stop"]
    list_filter = ["name"]
    search_fields = ["patient__mrn", "patient__family_name", "detail"]
    autocomplete_fields = ["patient"]
    list_select_related = ["patient"]


@admin.register(PlausibilityRange)
class PlausibilityRangeAdmin(SimpleHistoryAdmin):
    """The usual clinical range of each analyte (canonical units): a lab value outside it is saved only
    once the nurse confirms it. Bounds outside what can be measured are refused."""

    list_display = ["analyte", "low", "high", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # without a row the built-in default applies; change the bounds instead


@admin.register(Decision)
class DecisionAdmin(ClinicScopedAdmin):
    """Read-only: decisions are made on the patient chart, through clinic.actions."""

    list_display = ["patient", "kind", "made_by", "made_at", "alert_rule"]
    list_filter = ["kind"]
    search_fields = ["patient__mrn", "patient__family_name", "reason"]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(ProtocolProfile)
class ProtocolProfileAdmin(SimpleHistoryAdmin):
    """A new profile is made here (published at once: no patient is on it yet). The settings of an
    existing one are changed in the staff app (clinic.profile_views: a draft, its preview, then
    publishing), so here they are read-only; a change of name or of `is_active` is a new version."""

    list_display = ["name", "slug", "version", "drug", "maintenance_interval_months", "monitoring_pathway", "is_active"]
    readonly_fields = ["version", "updated_at", "change_settings"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "version", "is_active", "updated_at", "change_settings"]}),
        ("Drug and loading", {"fields": ["drug", "dose_mcg", "loading_doses", "loading_interval_days"]}),
        (
            "Maintenance interval",
            {
                "fields": [
                    "maintenance_interval_months",
                    "neuro_interval_months",
                    "ileal_interval_months",
                    "ileal_over_cm",
                ]
            },
        ),
        (
            "Monitoring",
            {
                "fields": [
                    "monitoring_pathway",
                    "first_year_check_months",
                    "until_stable_first_check_months",
                    "recheck_window_days",
                    "stable_recheck_months",
                    "unstable_recheck_months",
                    "high_risk_max_gap_months",
                    "bariatric_max_gap_months",
                    "pregnancy_bariatric_gap_months",
                    "oral_recheck_months",
                    "homocysteine_every_recheck",
                ]
            },
        ),
        (
            "Discontinuation",
            {"fields": ["crohn_over_cm", "age_rule_enabled", "age_over_years", "drug_cause_months", "oral_dose_text"]},
        ),
        (
            "Thresholds (canonical units)",
            {
                "fields": [
                    "b12_low_below",
                    "b12_normal_above",
                    "mma_high_at",
                    "homocysteine_high_at",
                    "ferritin_low_below",
                    "tsat_low_below",
                    "folate_low_below",
                    "vitamin_d_low_below",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: ProtocolProfile | None = None) -> list[str]:
        if obj is None:
            return ["version", "updated_at", "change_settings"]
        return ["version", "updated_at", "change_settings", *SETTING_NAMES]

    @admin.display(description="Settings")
    def change_settings(self, obj: ProtocolProfile | None) -> str:
        if obj is None or obj.pk is None:
            return "A new profile is in force once saved; later changes are drafted and previewed first."
        return format_html(
            '<a href="{}">Change the settings in the staff app</a>: a draft, its preview across every patient on '
            "the profile, then publishing.",
            reverse("profile_draft_edit", args=[obj.slug]),
        )

    def save_model(self, request: HttpRequest, obj: ProtocolProfile, form: Any, change: bool) -> None:
        actions.protocol_profile_publish(profile=obj)

    def has_delete_permission(self, request: HttpRequest, obj: ProtocolProfile | None = None) -> bool:
        return False  # care statuses and history point at profiles; retire one with is_active instead


@admin.register(ClinicCapacity)
class ClinicCapacityAdmin(admin.ModelAdmin):
    """The appointments a day each clinic takes, per weekday (the booking suggestion skips a full or
    closed day). Clinic admins, for their own clinics; saved through actions.clinic_capacity_set."""

    list_display = ["clinic", "weekday", "appointments"]
    list_filter = ["clinic"]
    ordering = ["clinic", "weekday"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClinicCapacity]:
        return super().get_queryset(request).filter(clinic__in=clinics_of(request.user))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "clinic":
            kwargs["queryset"] = clinics_of(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ClinicCapacity, form: Any, change: bool) -> None:
        if change and {"clinic", "weekday"} & set(form.changed_data):
            # A row moved to another weekday: the old one goes back to the default.
            ClinicCapacity.objects.filter(pk=obj.pk).delete()
        saved = actions.clinic_capacity_set(
            clinic=obj.clinic, appointments={obj.weekday: obj.appointments}, by=request.user
        )
        obj.pk = saved[0].pk

    def has_delete_permission(self, request: HttpRequest, obj: ClinicCapacity | None = None) -> bool:
        return bool(request.user.has_perm("outreach.change_cliniccapacity"))
