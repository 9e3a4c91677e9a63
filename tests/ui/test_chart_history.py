"""The chart's audit history: who changed what and when, loaded when its section is opened."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AccessEvent
from clinic import actions
from patients.models import Patient

pytestmark = pytest.mark.django_db


def test_it_shows_who_changed_what(nurse_client: Client, patient: Patient, nurse, injection_kwargs) -> None:
    actions.injection_record(**injection_kwargs)
    actions.patient_update(patient=patient, data={"phone": "01234 567890"}, by=nurse, today=datetime.date(2026, 3, 1))
    chart = nurse_client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert reverse("patient_history", args=[patient.pk]) in chart  # fetched when opened
    page = nurse_client.get(reverse("patient_history", args=[patient.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="history"' in html
    assert "nina" in html and "Injection" in html and "<code>phone</code>" in html and "01234 567890" in html
    assert AccessEvent.objects.filter(kind="read", patients=patient).count() == 2  # the chart and its history


def test_a_stranger_cannot_read_the_history(client: Client, stranger, patient: Patient) -> None:
    client.force_login(stranger)
    assert client.get(reverse("patient_history", args=[patient.pk])).status_code == 403
