"""The Celery app. Tasks live in each app's tasks.py and stay thin: they call a service."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b12clinic.settings")

app = Celery("b12clinic")
# Every CELERY_* setting in b12clinic/settings.py configures the app.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
