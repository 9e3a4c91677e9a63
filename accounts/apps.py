from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _grant_role_permissions(sender: AppConfig, **kwargs: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    from accounts.roles import grant_role_permissions

    grant_role_permissions(Group, Permission)


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Permissions of models added later (created on post_migrate) reach the roles on the next migrate.
        post_migrate.connect(_grant_role_permissions, sender=self, dispatch_uid="accounts_grant_role_permissions")
