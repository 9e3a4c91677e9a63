"""The import runs in the admin: read-only, the audit trail of every import."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from exchange.models import ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ["created_at", "by", "source", "status", "dry_run", "rows_total"]
    list_filter = ["status", "source", "dry_run"]
    readonly_fields = [field.name for field in ImportRun._meta.fields] + ["files", "report"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
