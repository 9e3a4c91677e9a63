"""The protocol profile pages of a clinic admin (clinic.profile_views): a draft, its preview, publishing.
Included under /protocols/ by b12clinic/urls.py."""

from __future__ import annotations

from django.urls import path

from clinic import profile_views

urlpatterns = [
    path("", profile_views.profile_list, name="profile_list"),
    path("<slug:slug>/draft/", profile_views.draft_detail, name="profile_draft"),
    path("<slug:slug>/draft/edit/", profile_views.draft_edit, name="profile_draft_edit"),
    path("<slug:slug>/draft/preview/", profile_views.draft_preview, name="profile_draft_preview"),
    path("<slug:slug>/draft/publish/", profile_views.draft_publish, name="profile_draft_publish"),
    path("<slug:slug>/draft/discard/", profile_views.draft_discard, name="profile_draft_discard"),
    path("runs/<int:run_id>/", profile_views.run_detail, name="profile_run"),
    path("runs/<int:run_id>/progress/", profile_views.run_progress, name="profile_run_progress"),
    path("runs/<int:run_id>/changes.csv", profile_views.run_csv, name="profile_run_csv"),
]
