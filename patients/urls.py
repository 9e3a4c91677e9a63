from __future__ import annotations

from django.urls import path

from patients import views

urlpatterns = [
    path("patients/", views.patient_list, name="patient_list"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient_detail"),
    path("patients/<int:patient_id>/history/", views.patient_history, name="patient_history"),
    path("patients/<int:patient_id>/injections/new/", views.injection_create, name="injection_create"),
    path("patients/<int:patient_id>/labs/new/", views.lab_create, name="lab_create"),
    path("patients/<int:patient_id>/symptoms/new/", views.symptom_check_create, name="symptom_check_create"),
    path("patients/<int:patient_id>/medications/new/", views.medication_create, name="medication_create"),
    path(
        "patients/<int:patient_id>/medications/<int:medication_id>/stop/",
        views.medication_stop,
        name="medication_stop",
    ),
]
