from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.clinics import clinics_of
from reminders import outbox
from reminders.models import Reminder, ReminderEvent, ReminderSettings, StaffDigest, Status


@admin.register(ReminderSettings)
class ReminderSettingsAdmin(admin.ModelAdmin):
    """The clinic's reminder rules: one row, edited by a clinic admin; the next scan uses them."""

    list_display = [
        "__str__",
        "enabled",
        "days_before",
        "days_after",
        "window_start_hour",
        "window_end_hour",
        "digest_hour",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not ReminderSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: ReminderSettings | None = None) -> bool:
        return False


class ReminderEventInline(admin.TabularInline):
    model = ReminderEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "status", "note"]

    def has_add_permission(self, request: HttpRequest, obj: Reminder | None = None) -> bool:
        return False


class _ReadOnly(admin.ModelAdmin):
    """The outbox is written by the scan and the workers only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Reminder)
class ReminderAdmin(_ReadOnly):
    list_display = ["patient", "kind", "channel", "due_date", "status", "attempts", "sent_at", "updated_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["patient__mrn", "patient__family_name"]
    list_select_related = ["patient"]
    inlines = [ReminderEventInline]
    actions = ["send_again"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reminder]:
        return super().get_queryset(request).filter(patient__clinic__in=clinics_of(request.user))

    @admin.action(description="Send the selected failed reminders again", permissions=["view"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[Reminder]) -> None:
        now = timezone.now()
        moved = sum(
            outbox.reminder_retry(reminder=reminder, by=request.user, now=now)
            for reminder in queryset.filter(status=Status.FAILED)
        )
        self.message_user(request, f"{moved} reminder(s) will be sent again by the next scan.", messages.SUCCESS)


@admin.register(StaffDigest)
class StaffDigestAdmin(_ReadOnly):
    list_display = ["user", "date", "status", "attempts", "sent_at"]
    list_filter = ["status", "date"]
