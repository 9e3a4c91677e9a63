from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from protocols.models import CareStatus, ProtocolProfile
from protocols.services import protocol_profile_save


@admin.register(ProtocolProfile)
class ProtocolProfileAdmin(SimpleHistoryAdmin):
    """A clinic admin edits the settings; each save is a new version and re-evaluates its patients."""

    list_display = ["name", "slug", "version", "drug", "maintenance_interval_months", "monitoring_pathway", "is_active"]
    readonly_fields = ["version", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "version", "is_active", "updated_at"]}),
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

    def save_model(self, request: HttpRequest, obj: ProtocolProfile, form: Any, change: bool) -> None:
        protocol_profile_save(profile=obj)

    def has_delete_permission(self, request: HttpRequest, obj: ProtocolProfile | None = None) -> bool:
        return False  # care statuses and history point at profiles; retire one with is_active instead


@admin.register(CareStatus)
class CareStatusAdmin(admin.ModelAdmin):
    list_display = [
        "patient",
        "phase",
        "next_injection_due",
        "next_recheck_due",
        "verdict",
        "highest_severity",
        "as_of",
    ]
    list_filter = ["phase", "verdict", "highest_severity"]
    list_select_related = ["patient"]
    search_fields = ["patient__mrn", "patient__family_name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CareStatus | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CareStatus | None = None) -> bool:
        return False
