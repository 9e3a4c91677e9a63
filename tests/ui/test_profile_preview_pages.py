"""The protocol profile pages of a clinic admin: a draft edited and saved, its preview with a progress
bar, the counts, the patients of the admin's clinics to open (access-logged) and a CSV, then publish
or discard. Nobody else may open them."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Clinic
from audit.models import AccessEvent
from b12clinic.celery import app
from care.models import CareStatus, ProfileRun
from care.services import care_status_refresh_all
from clinic import actions
from clinic.spreadsheets import neutralise
from patients.models import Patient
from protocols.models import ProtocolProfile, ProtocolProfileDraft
from tests.conftest import NOW, TODAY

pytestmark = pytest.mark.django_db
SLUG = "monthly-cyanocobalamin"


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def eager() -> Iterator[None]:
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def give(patient: Patient, nurse, day: str) -> None:
    when = timezone.make_aware(datetime.datetime.fromisoformat(f"{day}T10:00"))
    actions.injection_record(
        patient=patient,
        given_at=when,
        drug="cyanocobalamin",
        dose_mcg=1000,
        route="im",
        site="left_deltoid",
        lot_number="L1",
        lot_expiry=datetime.date(2027, 1, 31),
        given_by=nurse,
        now=when,
    )


@pytest.fixture
def patients(make_patient, nurse, clinic_admin) -> dict[str, Patient]:
    """Two patients on monthly maintenance: one of the admin's clinic (with a name a spreadsheet would
    run), one of another clinic (the clinic admin is on the first one's staff only)."""
    north = Clinic.objects.get()
    south = Clinic.objects.create(name="South clinic", slug="south")
    nurse.clinics.add(south)
    ours = make_patient(mrn="N-1", family_name="=HYPERLINK(evil)", clinic=north)
    theirs = make_patient(mrn="S-1", family_name="Southern", clinic=south)
    for patient in (ours, theirs):
        for day in ("2025-01-03", "2025-01-10", "2025-01-17", "2025-01-24", "2026-02-24"):
            give(patient, nurse, day)
    care_status_refresh_all(today=TODAY, patients=Patient.objects.all())
    return {"ours": ours, "theirs": theirs}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def draft_form(**changes: object) -> dict[str, object]:
    """The draft form as the page fills it (the settings in force), with `changes`."""
    profile = ProtocolProfile.objects.get(slug=SLUG)
    data: dict[str, object] = {}
    for name, value in profile.setting_values().items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = str(value)
        else:
            data[name] = "" if value is None else value
    data.update(changes)
    return data


def test_it_drafts_previews_and_publishes_a_change(
    patients, clinic_admin, eager, django_capture_on_commit_callbacks
) -> None:
    client = logged_in(clinic_admin)
    assert "Protocol profiles" in client.get(reverse("profile_list")).content.decode()
    edit = reverse("profile_draft_edit", args=[SLUG])
    assert client.get(edit).status_code == 200 and not ProtocolProfileDraft.objects.exists()  # a GET saves nothing

    refused = client.post(edit, draft_form(maintenance_interval_months="0"))
    assert refused.status_code == 200 and not ProtocolProfileDraft.objects.exists()
    assert 'name="maintenance_interval_months" value="0"' in refused.content.decode()  # what was typed stays
    assert refused.context["form"].errors["maintenance_interval_months"]

    saved = client.post(edit, draft_form(maintenance_interval_months="2"))
    assert saved["Location"] == reverse("profile_draft", args=[SLUG])
    page = client.get(saved["Location"]).content.decode()
    assert "Maintenance interval months" in page and "Preview what it would change" in page
    assert ProtocolProfile.objects.get(slug=SLUG).version == 1  # not in force

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(reverse("profile_draft_preview", args=[SLUG]))
    run = ProfileRun.objects.get()
    assert started["Location"] == reverse("profile_run", args=[run.pk])
    progress = client.get(reverse("profile_run_progress", args=[run.pk]))
    assert (progress.status_code, progress["HX-Refresh"]) == (204, "true")  # done: the page reloads
    page = client.get(started["Location"])
    text = page.content.decode()
    assert page.context["run"].counts["patients"] == 2 and page.context["run"].counts["next_injection"]["later"] == 2
    assert page.context["visible"] == 1  # both counted; only the admin's clinic's patient listed
    assert f'data-patient="{patients["ours"].pk}"' in text and "Southern" not in text
    assert "2026-03-24 → 2026-04-24" in text
    event = AccessEvent.objects.filter(page="profile_run").latest("pk")
    assert list(event.patients.values_list("pk", flat=True)) == [patients["ours"].pk]
    # The draft page now leads to its preview.
    assert client.get(reverse("profile_draft", args=[SLUG]))["Location"] == started["Location"]

    download = client.get(reverse("profile_run_csv", args=[run.pk]))
    table = rows(download)
    assert table[0][:5] == ["mrn", "last_name", "first_name", "clinic", "in_care"]
    assert [(r[0], r[1], r[6], r[7], r[10]) for r in table[1:]] == [
        ("N-1", "'=HYPERLINK(evil)", "2026-04-24", "later", "")
    ]
    exported = AccessEvent.objects.get(detail__startswith="export protocol preview")
    assert list(exported.patients.values_list("pk", flat=True)) == [patients["ours"].pk]

    assert CareStatus.objects.get(patient=patients["ours"]).next_injection_due == datetime.date(2026, 3, 24)
    with django_capture_on_commit_callbacks(execute=True):
        published = client.post(reverse("profile_draft_publish", args=[SLUG]))
    publication = ProfileRun.objects.get(kind="publish")
    assert published["Location"] == reverse("profile_run", args=[publication.pk])
    assert "2 patients re-evaluated with v2" in client.get(published["Location"]).content.decode()
    for patient in patients.values():
        status = CareStatus.objects.get(patient=patient)
        assert (status.next_injection_due, status.profile_version) == (datetime.date(2026, 4, 24), 2)
    assert not ProtocolProfileDraft.objects.exists()


def test_the_progress_bar_polls_while_the_run_waits(patients, clinic_admin) -> None:
    client = logged_in(clinic_admin)
    client.post(reverse("profile_draft_edit", args=[SLUG]), draft_form(maintenance_interval_months="2"))
    client.post(reverse("profile_draft_preview", args=[SLUG]))  # no worker: it stays queued
    run = ProfileRun.objects.get()
    page = client.get(reverse("profile_run", args=[run.pk])).content.decode()
    assert 'data-testid="run-progress"' in page and f'hx-get="{reverse("profile_run_progress", args=[run.pk])}"' in page
    ProfileRun.objects.filter(pk=run.pk).update(status="running", done=1, total=2)
    bar = client.get(reverse("profile_run_progress", args=[run.pk])).content.decode()
    assert "1 of 2 patients" in bar and 'value="50"' in bar


def test_a_preview_of_an_older_draft_cannot_be_published_from_its_page(
    patients, clinic_admin, eager, django_capture_on_commit_callbacks
) -> None:
    client = logged_in(clinic_admin)
    edit = reverse("profile_draft_edit", args=[SLUG])
    client.post(edit, draft_form(maintenance_interval_months="2"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("profile_draft_preview", args=[SLUG]))
    run = ProfileRun.objects.get()
    client.post(edit, draft_form(maintenance_interval_months="3"))
    page = client.get(reverse("profile_run", args=[run.pk])).content.decode()
    assert "changed since this preview" in page and 'data-testid="publish"' not in page
    # The draft page offers a new preview rather than the old one.
    assert client.get(reverse("profile_draft", args=[SLUG])).status_code == 200


def test_discarding_changes_nothing(patients, clinic_admin) -> None:
    client = logged_in(clinic_admin)
    client.post(reverse("profile_draft_edit", args=[SLUG]), draft_form(maintenance_interval_months="2"))
    response = client.post(reverse("profile_draft_discard", args=[SLUG]))
    assert response["Location"] == reverse("profile_list")
    assert not ProtocolProfileDraft.objects.exists() and ProtocolProfile.objects.get(slug=SLUG).version == 1


@pytest.mark.parametrize("role", ["nurse", "physician", "stranger"])
def test_only_a_clinic_admin_opens_the_profile_pages(role, request, patients, clinic_admin) -> None:
    draft = actions.protocol_profile_draft_start(profile=ProtocolProfile.objects.get(slug=SLUG), by=clinic_admin)
    run = actions.protocol_profile_preview(draft=draft, by=clinic_admin, today=TODAY)
    client = logged_in(request.getfixturevalue(role))
    gets = ["profile_list", ("profile_draft", SLUG), ("profile_draft_edit", SLUG)]
    gets += [("profile_run", run.pk), ("profile_run_progress", run.pk), ("profile_run_csv", run.pk)]
    for name in gets:
        url = reverse(name) if isinstance(name, str) else reverse(name[0], args=[name[1]])
        assert client.get(url).status_code == 403, url
    for name in ("profile_draft_edit", "profile_draft_preview", "profile_draft_publish", "profile_draft_discard"):
        assert client.post(reverse(name, args=[SLUG]), draft_form()).status_code == 403, name
    assert ProtocolProfileDraft.objects.get() == draft and ProfileRun.objects.count() == 1
    assert "Protocol profiles" not in client.get(reverse("home"), follow=True).content.decode()


def test_the_admin_leaves_the_settings_of_a_profile_to_the_draft(clinic_admin) -> None:
    profile = ProtocolProfile.objects.get(slug=SLUG)
    page = logged_in(clinic_admin).get(reverse("admin:protocols_protocolprofile_change", args=[profile.pk]))
    text = page.content.decode()
    assert 'name="maintenance_interval_months"' not in text and 'name="name"' in text
    assert reverse("profile_draft_edit", args=[SLUG]) in text


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Smith", "Smith"),
        (-3, "-3"),
        (None, ""),
        (True, "yes"),
        (datetime.date(2026, 3, 1), "2026-03-01"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_neutralised(value: object, cell: str) -> None:
    assert neutralise(value) == cell
