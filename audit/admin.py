from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.models import ChartView


@admin.register(ChartView)
class ChartViewAdmin(admin.ModelAdmin):
    """Append-only: the log is written by the chart view, never by hand."""

    list_display = ["viewed_at", "user", "patient", "ip_address"]
    list_filter = ["viewed_at"]
    search_fields = ["patient__mrn", "patient__family_name", "user__username"]
    date_hierarchy = "viewed_at"
    list_select_related = ["user", "patient"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ChartView | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ChartView | None = None) -> bool:
        return False
