from __future__ import annotations

from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("mfa/setup/", views.mfa_setup, name="mfa_setup"),
    path("mfa/verify/", views.mfa_verify, name="mfa_verify"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("session/ping/", views.session_ping, name="session_ping"),
]
