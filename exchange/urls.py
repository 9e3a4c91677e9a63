from __future__ import annotations

from django.urls import path

from exchange import views

app_name = "exchange"
urlpatterns = [
    path("import/", views.import_start, name="import_start"),
    path("import/<int:run_id>/", views.import_run, name="import_run"),
    path("import/<int:run_id>/progress/", views.import_progress, name="import_progress"),
    path("import/<int:run_id>/confirm/", views.import_confirm, name="import_confirm"),
    path("import/templates/<slug:name>.csv", views.import_template, name="import_template"),
    path("export/worklist.csv", views.export_worklist, name="export_worklist"),
    path("export/dashboard/<slug:name>.csv", views.export_dashboard, name="export_dashboard"),
    path("export/reminders.csv", views.export_reminders, name="export_reminders"),
    path("export/access-log.csv", views.export_access_log, name="export_access_log"),
    path("export/clinic.zip", views.export_clinic, name="export_clinic"),
]
