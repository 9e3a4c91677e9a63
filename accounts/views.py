"""Login and logout (Django's views), the second factor (enrolment and verification) and the
password change, with our templates."""

from __future__ import annotations

import django_otp
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import mfa
from accounts.forms import TokenForm
from accounts.middleware import MUST_CHANGE_PASSWORD
from accounts.models import AccountState


# Django's LoginView is exempt already; saying so here keeps the exemption if the base class changes.
@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else "/"


def mfa_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the code, type its first code, keep the recovery codes."""
    if request.user.is_verified() and django_otp.user_has_device(request.user):
        return redirect(_next(request))
    device = mfa.pending_app_device(request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = mfa.confirm_app_device(device, form.cleaned_data["token"])
        if codes is None:
            form.add_error("token", "That code is not the one the app shows now; try the next one.")
        else:
            django_otp.login(request, device)
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _next(request)})
    context = {"form": form, "qr": mfa.qr_data_uri(device), "secret": mfa.secret_text(device), "next": _next(request)}
    return render(request, "accounts/mfa_setup.html", context)


def mfa_verify(request: HttpRequest) -> HttpResponse:
    """The second step of every login: a code from the app, or a recovery code (used up)."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = django_otp.match_token(request.user, form.cleaned_data["token"].replace(" ", ""))
        if device is None:
            form.add_error("token", "That code is not right.")
        else:
            django_otp.login(request, device)
            if device.name == mfa.RECOVERY_DEVICE:
                left = device.token_set.count()
                messages.warning(request, f"You used a recovery code; {left} left.")
            return redirect(_next(request))
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": _next(request)})


def session_ping(request: HttpRequest) -> HttpResponse:
    """ "Stay logged in": any request resets the idle timer (IdleTimeoutMiddleware); this one is empty."""
    return HttpResponse(status=204)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Self-service, and forced at the first login after an administrator set the password."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        AccountState.objects.update_or_create(
            user=self.request.user, defaults={"must_change_password": False, "password_changed_at": timezone.now()}
        )
        self.request.session.pop(MUST_CHANGE_PASSWORD, None)
        messages.success(self.request, "Your password was changed.")
        return response
