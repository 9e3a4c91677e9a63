from __future__ import annotations

from django.urls import path

from clinic import patient_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("worklist/", views.worklist, name="worklist"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("patients/", patient_views.patient_list, name="patient_list"),
    path("patients/<int:patient_id>/", patient_views.patient_detail, name="patient_detail"),
    path("patients/<int:patient_id>/history/", patient_views.patient_history, name="patient_history"),
    path("patients/<int:patient_id>/injections/new/", patient_views.injection_create, name="injection_create"),
    path(
        "patients/<int:patient_id>/injections/<int:injection_id>/correct/",
        patient_views.injection_correct,
        name="injection_correct",
    ),
    path(
        "patients/<int:patient_id>/injections/<int:injection_id>/void/",
        patient_views.injection_void,
        name="injection_void",
    ),
    path("patients/<int:patient_id>/labs/new/", patient_views.lab_create, name="lab_create"),
    path("patients/<int:patient_id>/labs/<int:lab_id>/correct/", patient_views.lab_correct, name="lab_correct"),
    path("patients/<int:patient_id>/labs/<int:lab_id>/void/", patient_views.lab_void, name="lab_void"),
    path("patients/<int:patient_id>/symptoms/new/", patient_views.symptom_check_create, name="symptom_check_create"),
    path("patients/<int:patient_id>/medications/new/", patient_views.medication_create, name="medication_create"),
    path(
        "patients/<int:patient_id>/medications/<int:medication_id>/stop/",
        patient_views.medication_stop,
        name="medication_stop",
    ),
    path("patients/<int:patient_id>/decisions/<slug:kind>/", views.decision_create, name="decision_create"),
]
