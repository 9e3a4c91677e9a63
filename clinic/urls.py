from __future__ import annotations

from django.urls import path

from clinic import views

urlpatterns = [
    path("", views.home, name="home"),
    path("worklist/", views.worklist, name="worklist"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("patients/<int:patient_id>/decisions/<slug:kind>/", views.decision_create, name="decision_create"),
]
