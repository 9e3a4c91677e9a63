from __future__ import annotations

from django.urls import path

from labs_in import views

app_name = "labs_in"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("<int:result_id>/", views.result_detail, name="result"),
    path("<int:result_id>/match/", views.result_match, name="match"),
    path("<int:result_id>/reject/", views.result_reject, name="reject"),
    path("<int:result_id>/register/", views.result_register, name="register"),
]
