from __future__ import annotations

from django.urls import path

from patients import views

urlpatterns = [
    path("", views.home, name="home"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient_detail"),
]
