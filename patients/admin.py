"""Admin for the clinical record.

Every save and delete made here still ends in services._clinical_facts_changed (ClinicalFactsAdmin),
so the admin cannot leave a stale care status behind. Injections and lab results may be added but
not changed or deleted here: corrections go through services.injection_correct/lab_result_correct,
which require a reason. Physician decisions on a regimen (interval override, oral switch) are made
through the services too and are read-only here. History is shown, never reverted
(SIMPLE_HISTORY_REVERT_DISABLED).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from patients import services
from patients.models import Cause, Injection, LabResult, Medication, Patient, Regimen, SymptomCheck
from protocols.engine import units


def _patient_of(obj: models.Model) -> Patient:
    return obj if isinstance(obj, Patient) else obj.patient  # type: ignore[attr-defined]


class ClinicalFactsAdmin(SimpleHistoryAdmin):
    """Calls the care-status hook after every admin write, in the same transaction."""

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services._clinical_facts_changed(_patient_of(obj))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        patient = _patient_of(obj)
        super().delete_model(request, obj)
        if not isinstance(obj, Patient):
            services._clinical_facts_changed(patient)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            patients = (
                [] if queryset.model is Patient else list(Patient.objects.filter(pk__in=queryset.values("patient")))
            )
            super().delete_queryset(request, queryset)
            for patient in patients:
                services._clinical_facts_changed(patient)


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


class PatientAdminForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = [f.name for f in Patient._meta.get_fields() if f.concrete and f.editable and not f.auto_created]

    def clean_birth_date(self) -> Any:
        birth_date = self.cleaned_data["birth_date"]
        if birth_date and birth_date > timezone.localdate():
            raise forms.ValidationError("The birth date cannot be in the future.")
        return birth_date


@admin.register(Patient)
class PatientAdmin(ClinicalFactsAdmin):
    form = PatientAdminForm
    list_display = ["mrn", "family_name", "given_name", "birth_date", "sex", "is_active"]
    list_filter = ["is_active", "sex", "pregnancy", "neurological_involvement"]
    search_fields = ["mrn", "family_name", "given_name", "email"]
    readonly_fields = ["created_at", "updated_at"]


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
            raise forms.ValidationError(services.FUTURE_TIME)
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


class LabResultAdminForm(forms.ModelForm):
    unit_entered = forms.ChoiceField(label="Unit", choices=[(u, u) for u in units.ALL_UNIT_SYMBOLS])

    class Meta:
        model = LabResult
        fields = ["patient", "analyte", "value_entered", "unit_entered", "collected_on", "entered_by", "notes"]

    def clean_collected_on(self) -> Any:
        collected_on = self.cleaned_data["collected_on"]
        if collected_on and collected_on > timezone.localdate():
            raise forms.ValidationError(services.FUTURE_DATE)
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
    readonly_fields = ["value_canonical", "unit_canonical", "entered_at"]


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
