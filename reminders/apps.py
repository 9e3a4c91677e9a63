from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

# What the clinic_admin role may do here: edit the reminder settings, see the outbox.
CLINIC_ADMIN_CODENAMES = (
    "view_remindersettings",
    "change_remindersettings",
    "view_reminder",
    "view_reminderevent",
    "view_staffdigest",
)


def _grant_clinic_admin(sender: AppConfig, **kwargs: Any) -> None:
    grant_clinic_admin()


def grant_clinic_admin() -> None:
    """Additive, like accounts.roles: a clinic admin edits the reminder settings in the admin."""
    from django.contrib.auth.models import Group, Permission

    from accounts.roles import CLINIC_ADMIN

    group = Group.objects.filter(name=CLINIC_ADMIN).first()
    if group is not None:
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="reminders", codename__in=CLINIC_ADMIN_CODENAMES)
        )


class RemindersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reminders"
    verbose_name = "Reminders"

    def ready(self) -> None:
        post_migrate.connect(_grant_clinic_admin, sender=self, dispatch_uid="reminders_grant_clinic_admin")
