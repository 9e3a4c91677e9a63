from __future__ import annotations

from django.contrib import admin

from labs_in.loinc import DEFAULT
from labs_in.models import LoincCode


@admin.register(LoincCode)
class LoincCodeAdmin(admin.ModelAdmin):
    """The clinic's additions to the built-in LOINC table (labs_in.loinc.DEFAULT), which they override."""

    list_display = ["code", "analyte", "description"]
    search_fields = ["code", "description"]

    def changelist_view(self, request, extra_context=None):  # type: ignore[no-untyped-def]
        extra_context = {**(extra_context or {}), "subtitle": f"Built in: {', '.join(sorted(DEFAULT))}"}
        return super().changelist_view(request, extra_context)
