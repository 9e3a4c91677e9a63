from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("protocols/", include("clinic.profile_urls")),
    path("reminders/", include("reminders.urls")),
    path("lab-results/", include("labs_in.urls")),
    path("", include("fhir_api.urls")),
    path("", include("exchange.urls")),
    path("", include("clinic.urls")),
]
