from __future__ import annotations

from django.urls import path, re_path

from fhir_api import views

app_name = "fhir_api"
urlpatterns = [
    path("fhir/", views.root, name="root"),
    path("fhir/metadata", views.metadata, name="metadata"),
    path("fhir/Patient/<int:patient_id>", views.patient_read, name="patient"),
    path("fhir/Patient/<int:patient_id>/$everything", views.patient_everything, name="everything"),
    path("fhir/$export", views.export_kickoff, name="export"),
    path("fhir/Patient/$export", views.export_kickoff, name="export_patients"),
    path("fhir/Group/<slug:group>/$export", views.export_kickoff, name="export_group"),
    path("fhir/$export-status/<uuid:export_id>", views.export_status, name="export_status"),
    path("fhir/$export-file/<uuid:export_id>/<str:name>", views.export_file, name="export_file"),
    re_path(r"^fhir/.*$", views.not_found, name="not_found"),
    path("api-tokens/", views.token_list, name="tokens"),
    path("api-tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
