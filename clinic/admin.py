from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from clinic.models import Decision


@admin.register(Decision)
class DecisionAdmin(SimpleHistoryAdmin):
    """Read-only: decisions are made on the patient chart, through clinic.services."""

    list_display = ["patient", "kind", "made_by", "made_at", "alert_rule"]
    list_filter = ["kind"]
    search_fields = ["patient__mrn", "patient__family_name", "reason"]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
