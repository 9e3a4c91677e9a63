from __future__ import annotations

from django.urls import path

from reminders import views

app_name = "reminders"
urlpatterns = [
    path("", views.reminder_list, name="list"),
    path("<int:reminder_id>/retry/", views.reminder_retry, name="retry"),
    path("letters/", views.letter_list, name="letters"),
    path("letters/print/", views.letters_print, name="letters_print"),
    path("letters/printed.pdf", views.letters_reprint, name="letters_reprint"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
