"""Session rules enforced on every request: the idle timeout, the second factor and a forced password
change. Each lets through only what a user needs to satisfy it (log in, enrol, verify, log out)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

LAST_SEEN = "last_seen"
MUST_CHANGE_PASSWORD = "must_change_password"  # noted in the session at login (accounts.apps)


class IdleTimeoutMiddleware:
    """Logs a session out after SESSION_IDLE_MINUTES without a request (HIPAA's automatic logoff on
    shared workstations); the page's own script warns a minute before (static/js/session.js)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            last = request.session.get(LAST_SEEN)
            if last is not None and now - last > settings.SESSION_IDLE_MINUTES * 60:
                logout(request)
                messages.info(request, "You were logged out after a period without activity.")
                return redirect(f"{reverse('login')}?next={request.path}")
            if last is None or now - last > 30:  # to the half minute: no session write on every request
                request.session[LAST_SEEN] = now
        return self.get_response(request)


def _exempt(path: str) -> bool:
    prefixes = [reverse(name) for name in ("login", "logout", "mfa_setup", "mfa_verify", "password_change")]
    return path.startswith((*prefixes, settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/static/"))


class SecondFactorMiddleware:
    """With MFA_REQUIRED, a user who logged in with a password alone reaches nothing (the admin
    included) until they enrol a second factor or verify one; then, if an administrator set their
    password, nothing until they choose their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not _exempt(request.path):
            if settings.MFA_REQUIRED and not user.is_verified():
                from django_otp import user_has_device

                target = "mfa_verify" if user_has_device(user) else "mfa_setup"
                return redirect(f"{reverse(target)}?next={request.get_full_path()}")
            if request.session.get(MUST_CHANGE_PASSWORD):
                return redirect(f"{reverse('password_change')}?next={request.get_full_path()}")
        return self.get_response(request)
