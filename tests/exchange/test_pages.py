"""The import page and the CSV exports."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AccessEvent
from b12clinic.celery import app
from exchange.models import ImportRun
from patients.models import Patient

from .conftest import INJECTIONS, PATIENTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager() -> Iterator[None]:
    """The Celery task runs in the request (the task code is the real one)."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _upload(client: Client, capture, **files: str):
    """Upload, let the task run (once the request's transaction commits), and read the run's page."""
    data = {name: io.BytesIO(text.encode()) for name, text in files.items()}
    for name, handle in data.items():
        handle.name = f"{name}.csv"
    with capture(execute=True):
        response = client.post(reverse("exchange:import_start"), data)
    return client.get(response["Location"])


def test_it_checks_then_imports_on_confirmation(clinic_admin, eager, django_capture_on_commit_callbacks):
    client = _client(clinic_admin)
    bad = INJECTIONS.replace("2024-02-01", "someday")
    response = _upload(client, django_capture_on_commit_callbacks, patients=PATIENTS, injections=bad)
    page = response.content.decode()
    assert "injections.csv" in page and "given_at" in page and "&#x27;someday&#x27; is not a date" in page
    assert not Patient.objects.exists()
    response = _upload(client, django_capture_on_commit_callbacks, patients=PATIENTS, injections=INJECTIONS)
    checked = ImportRun.objects.filter(dry_run=True).first()
    assert checked.status == ImportRun.Status.CHECKED and not Patient.objects.exists()
    assert b'data-file="patients"><td>patients</td><td>2</td>' in response.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("exchange:import_confirm", args=[checked.pk]), follow=True)
    saved = ImportRun.objects.get(dry_run=False)
    assert saved.status == ImportRun.Status.SAVED and saved.source == ImportRun.Source.PAGE
    assert [f["sha256"] for f in saved.files] == [f["sha256"] for f in checked.files]
    assert Patient.objects.count() == 2
    assert not any(bytes(f.content) for f in saved.uploads.all())  # the hashes stay, the data goes


def test_it_asks_to_accept_warnings_before_importing(clinic_admin, eager, django_capture_on_commit_callbacks):
    client = _client(clinic_admin)
    injections = "mrn,given_at,dose_mcg\nR-1,2024-01-02,500\n"
    response = _upload(client, django_capture_on_commit_callbacks, patients=PATIENTS, injections=injections)
    assert b"500 mcg is not the dose of" in response.content and b"accept_warnings" in response.content
    checked = ImportRun.objects.get()
    client.post(reverse("exchange:import_confirm", args=[checked.pk]))
    assert ImportRun.objects.count() == 1  # not without the tick
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exchange:import_confirm", args=[checked.pk]), {"accept_warnings": "on"})
    assert ImportRun.objects.get(dry_run=False).status == ImportRun.Status.SAVED


@pytest.mark.parametrize("user", ["nurse", "physician", "stranger"])
def test_it_keeps_the_import_page_to_clinic_admins(request, user):
    client = _client(request.getfixturevalue(user))
    assert client.get(reverse("exchange:import_start")).status_code == 403
    assert client.get(reverse("exchange:export_clinic")).status_code == 403


def test_it_offers_a_template_of_each_file(clinic_admin):
    rows = _rows(_client(clinic_admin).get(reverse("exchange:import_template", args=["labs"])))
    assert rows == [["mrn", "collected_on", "analyte", "value", "unit", "note"]]


@pytest.mark.parametrize(
    ("url", "args"),
    [
        ("exchange:export_worklist", []),
        *[("exchange:export_dashboard", [name]) for name in ("overdue", "lost", "rechecks_soon", "alerts")],
        ("exchange:export_reminders", []),
    ],
)
def test_it_exports_each_list_and_logs_the_patients(url, args, physician, make_patient):
    patient = make_patient(family_name='=HYPERLINK("http://evil")')
    response = _client(physician).get(reverse(url, args=args))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    event = AccessEvent.objects.filter(detail__startswith="export").get()
    assert event.kind == AccessEvent.Kind.READ and event.user == physician
    assert _rows(response)[0][0] == "mrn"
    del patient


def test_it_neutralises_formulas_in_cells(clinic_admin, make_patient):
    make_patient(mrn="M-1", family_name='=HYPERLINK("http://evil")', given_name="+1", email="")
    response = _client(clinic_admin).get(reverse("exchange:export_clinic"))
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    rows = list(csv.DictReader(io.StringIO(archive.read("patients.csv").decode("utf-8-sig"))))
    assert rows[0]["last_name"] == '\'=HYPERLINK("http://evil")' and rows[0]["first_name"] == "'+1"
    event = AccessEvent.objects.get(detail="export whole clinic")
    assert list(event.patients.values_list("mrn", flat=True)) == ["M-1"]


def test_it_exports_the_access_log_to_those_who_may_read_it(clinic_admin, nurse):
    assert _client(nurse).get(reverse("exchange:export_access_log")).status_code == 403
    response = _client(clinic_admin).get(reverse("exchange:export_access_log"))
    assert _rows(response)[0][:3] == ["at", "kind", "user"]
