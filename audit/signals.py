"""Authentication events into the access log: logins, logouts, failed logins and lockouts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.models import AccessEvent
from audit.services import access_event_log


@receiver(user_logged_in, dispatch_uid="audit_login")
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    access_event_log(kind=AccessEvent.Kind.LOGIN, request=request, user=user)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    access_event_log(kind=AccessEvent.Kind.LOGOUT, request=request, user=user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    access_event_log(kind=AccessEvent.Kind.LOGIN_FAILED, request=request, username=str(credentials.get("username", "")))


def connect_lockout() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(_locked_out, dispatch_uid="audit_locked_out")


def _locked_out(sender: Any, request: Any, username: str = "", ip_address: str = "", **kwargs: Any) -> None:
    access_event_log(kind=AccessEvent.Kind.LOCKED_OUT, request=request, username=username or "")
