from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from care.models import CareStatus


@admin.register(CareStatus)
class CareStatusAdmin(admin.ModelAdmin):
    list_display = [
        "patient",
        "phase",
        "next_injection_due",
        "next_recheck_due",
        "verdict",
        "as_of",
    ]
    list_filter = ["phase", "verdict"]
    list_select_related = ["patient"]
    search_fields = ["patient__mrn", "patient__family_name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CareStatus | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CareStatus | None = None) -> bool:
        return False
