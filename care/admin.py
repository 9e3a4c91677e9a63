from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.clinics import clinics_of
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[CareStatus]:
        return super().get_queryset(request).filter(patient__clinic__in=clinics_of(request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CareStatus | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CareStatus | None = None) -> bool:
        return False
