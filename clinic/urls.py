from __future__ import annotations

from django.urls import path

from clinic import journey_views, patient_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("worklist/", views.worklist, name="worklist"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("programme/", views.programme, name="programme"),
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
    # The patient's journey (clinic.journey_views).
    path("patients/new/", journey_views.patient_create, name="patient_create"),
    path("patients/<int:patient_id>/contact/", journey_views.patient_contact_edit, name="patient_contact_edit"),
    path("patients/<int:patient_id>/clinical/", journey_views.patient_clinical_edit, name="patient_clinical_edit"),
    path("patients/<int:patient_id>/profile/", journey_views.profile_change, name="profile_change"),
    path("patients/<int:patient_id>/causes/new/", journey_views.cause_create, name="cause_create"),
    path("patients/<int:patient_id>/causes/<int:cause_id>/", journey_views.cause_edit, name="cause_edit"),
    path("patients/<int:patient_id>/causes/<int:cause_id>/remove/", journey_views.cause_remove, name="cause_remove"),
    path("patients/<int:patient_id>/labs/panel/", journey_views.lab_panel_create, name="lab_panel_create"),
    path("patients/<int:patient_id>/discharge/", journey_views.patient_discharge, name="patient_discharge"),
    path("patients/<int:patient_id>/readmit/", journey_views.patient_readmit, name="patient_readmit"),
    path("patients/<int:patient_id>/transfer/", journey_views.patient_transfer, name="patient_transfer"),
]
