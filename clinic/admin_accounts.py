"""Staff accounts in the admin, with least privilege: only a superuser grants superuser status, roles
(groups) or permissions, changes a superuser, or sets someone else's password; a password set here
must be changed by its owner at the next login; a lost phone is an administrator's second-factor
reset, written to the access log. Clinics and who is on their staff are a superuser's too: a clinic
admin who could add themselves to a clinic could read its patients."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from accounts import mfa
from accounts.clinics import staff_join_only_clinic
from accounts.models import Clinic, require_password_change
from audit.models import AccessEvent
from audit.services import access_event_log

User = get_user_model()
SUPERUSER_ONLY_FIELDS = ("is_superuser", "groups", "user_permissions")

admin.site.unregister(User)


@admin.register(User)
class StaffAdmin(UserAdmin):
    actions = ["reset_second_factor"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += SUPERUSER_ONLY_FIELDS
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: records and the access log point at the account

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied("Only a superuser sets another person's password.")
        return super().user_change_password(request, id, form_url)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not request.user.is_superuser and (obj.is_superuser or (change and "is_superuser" in form.changed_data)):
            raise PermissionDenied("Only a superuser grants superuser status.")
        super().save_model(request, obj, form, change)
        if not change or "password" in form.changed_data:
            require_password_change(obj)  # the administrator knows it: its owner chooses their own
        if not change:
            staff_join_only_clinic(obj)  # one clinic: its staff; several: a superuser chooses (Clinics)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if not request.user.is_superuser:
            for name in ("groups", "user_permissions"):
                form.cleaned_data.pop(name, None)
        super().save_related(request, form, formsets, change)

    @admin.action(description="Reset the second factor (a lost phone): they enrol again at next login")
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for user in queryset:
            if user.is_superuser and not request.user.is_superuser:
                continue
            mfa.reset_second_factor(user)
            access_event_log(
                kind=AccessEvent.Kind.MFA_RESET, request=request, user=request.user, detail=f"for {user.get_username()}"
            )
            self.message_user(request, f"Second factor of {user.get_username()} reset.", messages.SUCCESS)


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    """The clinics (sites) and their staff. Superusers only (see the module's docstring)."""

    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["staff"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # patients point at their clinic; a clinic that closes transfers them first
