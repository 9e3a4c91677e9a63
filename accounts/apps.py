from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate


def _grant_role_permissions(sender: AppConfig, **kwargs: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    from accounts.roles import grant_role_permissions

    grant_role_permissions(Group, Permission)


def _ensure_default_clinic(sender: AppConfig, **kwargs: Any) -> None:
    """A database without a clinic (fresh, or flushed by a test) gets the default one back."""
    from accounts.clinics import ensure_default_clinic

    ensure_default_clinic()


def _note_session_state(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """At login: the idle clock starts, and whether a password change comes first is noted once (the
    middleware then reads the session, not the database, on every request)."""
    import time

    from accounts.middleware import LAST_SEEN, MUST_CHANGE_PASSWORD
    from accounts.models import must_change_password

    session = getattr(request, "session", None)
    if session is not None:
        session[LAST_SEEN] = time.time()
        session[MUST_CHANGE_PASSWORD] = must_change_password(user)


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Permissions of models added later (created on post_migrate) reach the roles on the next migrate.
        post_migrate.connect(_grant_role_permissions, sender=self, dispatch_uid="accounts_grant_role_permissions")
        post_migrate.connect(_ensure_default_clinic, sender=self, dispatch_uid="accounts_ensure_default_clinic")
        user_logged_in.connect(_note_session_state, dispatch_uid="accounts_note_session_state")
