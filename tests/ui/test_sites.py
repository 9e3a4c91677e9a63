"""Clinics (sites): a patient of another clinic is not there (404 on every URL, absent from every list,
count and digest), the programme role sees numbers and no patient, a single-clinic install needs no
set-up, and a transfer is an action with a reason."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts import roles
from accounts.clinics import clinics_of, only_clinic
from accounts.models import Clinic
from care import selectors
from clinic import actions
from patients.models import Cause, Injection, LabResult, Medication, Patient
from reminders import digest
from reminders.models import Reminder, StaffDigest
from tests.ui.builders import Clinic as Builder
from tests.ui.builders import days_ago

pytestmark = pytest.mark.django_db


def staff(username: str, role: str, *clinics: Clinic, **extra: Any) -> User:
    user = User.objects.create_user(username=username, password="pw", **extra)
    user.groups.add(Group.objects.get(name=role))
    user.clinics.add(*clinics)
    return user


@pytest.fixture
def north(nurse: User, physician: User, clinic_admin: User) -> Clinic:
    """The default clinic, whose staff the conftest's nurse, physician and clinic admin are."""
    clinic = Clinic.objects.get()
    clinic.name = "North clinic"
    clinic.save()
    return clinic


@pytest.fixture
def south(north: Clinic) -> Clinic:
    return Clinic.objects.create(name="South clinic", slug="south")


@pytest.fixture
def south_nurse(south: Clinic) -> User:
    return staff("sue", roles.NURSE, south, email="sue@clinic.example")


@pytest.fixture
def south_physician(south: Clinic) -> User:
    return staff("steve", roles.PHYSICIAN, south, email="steve@clinic.example")


@pytest.fixture
def southern(south: Clinic, south_nurse: User, south_physician: User) -> Builder:
    return Builder(nurse=south_nurse, physician=south_physician, home=south)


def with_everything(builder: Builder, patient: Patient) -> Patient:
    """One of everything a URL can name: injection (an overdue patient has some), lab, medication, cause."""
    builder.lab(patient, days_ago(3), "b12", "150", "pg/mL")
    actions.medication_start(
        patient=patient, name="folic_acid", detail="5 mg", start=days_ago(2), recorded_by=builder.nurse
    )
    actions.cause_add(patient=patient, kind="pernicious_anemia", reason="Antibodies", by=builder.physician)
    return patient


@pytest.fixture
def theirs(southern: Builder) -> Patient:
    """A South patient with one of everything a URL can name, and a reminder that failed."""
    patient = with_everything(southern, southern.overdue(10, family_name="Southgate"))
    Reminder.objects.create(
        patient=patient,
        kind="injection_overdue",
        due_date=timezone.localdate(),
        status="failed",
        next_attempt_at=timezone.now(),
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )
    return patient


# Every URL of another clinic's patient is a 404 ------------------------------------------------------


# The FHIR API answers bearer tokens, not sessions (these clients get a 401); tests/fhir_api/test_read.py
# holds its patient URLs to the same rules with tokens: 404 for another clinic's patient, each read logged.
TOKEN_APIS = {"fhir_api"}


def _patterns_with_a_patient() -> list[tuple[str, set[str]]]:
    """Every named URL pattern whose path names a patient (with whatever else it names)."""
    found: list[tuple[str, set[str]]] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str = "") -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver) and pattern.namespace in TOKEN_APIS:
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, f"{pattern.namespace}:" if pattern.namespace else prefix)
            elif pattern.name and "patient_id" in pattern.pattern.converters:
                found.append((prefix + pattern.name, set(pattern.pattern.converters)))

    walk(get_resolver().url_patterns)
    return found


# Views that only accept POST answer a GET 405 whatever the patient: the same for every patient.
POST_ONLY = {"medication_stop"}


def _urls_of(patient: Patient) -> dict[str, str]:
    """Every such URL filled with `patient` and ids of its own records."""
    ids = {
        "patient_id": patient.pk,
        "injection_id": Injection.objects.filter(patient=patient).values_list("pk", flat=True).first(),
        "lab_id": LabResult.objects.filter(patient=patient).values_list("pk", flat=True).first(),
        "medication_id": Medication.objects.filter(patient=patient).values_list("pk", flat=True).first(),
        "cause_id": Cause.objects.filter(patient=patient).values_list("pk", flat=True).first(),
        "kind": "interval",
    }
    urls = {}
    for name, converters in _patterns_with_a_patient():
        assert converters <= set(ids), f"{name} names {converters - set(ids)}: add it to this test"
        urls[name] = reverse(name, kwargs={key: ids[key] for key in converters})
    return urls


def test_every_url_of_another_clinics_patient_is_a_404_for_a_physician_and_a_clinic_admin(
    client: Client, theirs: Patient, physician: User, clinic_admin: User
) -> None:
    """Their roles open every patient page, so every one must answer 404 (the nurse: below)."""
    urls = _urls_of(theirs)
    assert len(urls) >= 20 and {"patient_detail", "patient_transfer", "cause_remove", "medication_stop"} <= set(urls)
    history_rows = theirs.history.count()
    for user in (physician, clinic_admin):
        client.force_login(user)
        for name, url in urls.items():
            assert client.get(url).status_code == (405 if name in POST_ONLY else 404), (user.username, name)
            assert client.post(url).status_code == 404, (user.username, "post", name)
        reminder = Reminder.objects.get(patient=theirs)
        assert client.post(reverse("reminders:retry", args=[reminder.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.history.count() == history_rows and theirs.is_active  # nothing written


def test_a_nurse_of_clinic_a_gets_404_for_every_url_of_a_clinic_b_patient(
    nurse_client: Client, theirs: Patient, north: Clinic
) -> None:
    """Every page, those her role forbids included: only for a patient of her own clinic does she learn
    that her role forbids a page (403)."""
    ours = Builder(nurse=User.objects.get(username="nina"), physician=User.objects.get(username="phil"))
    mine = with_everything(ours, ours.overdue(10))
    forbidden = {name for name, url in _urls_of(mine).items() if nurse_client.post(url).status_code == 403}
    assert forbidden and "patient_detail" not in forbidden  # decisions, causes, transfer ...
    for name, url in _urls_of(theirs).items():
        assert nurse_client.post(url).status_code == 404, name


def test_the_superuser_sees_every_clinic(client: Client, superuser: User, theirs: Patient) -> None:
    client.force_login(superuser)
    assert client.get(reverse("patient_detail", args=[theirs.pk])).status_code == 200
    assert set(clinics_of(superuser)) == set(Clinic.objects.all())


# Lists, search, counts, the digest ----------------------------------------------------------------


def test_lists_search_and_counts_show_only_the_users_clinics(
    physician_client: Client, clinic: Builder, theirs: Patient, north: Clinic
) -> None:
    ours = clinic.overdue(10, family_name="Northcote")
    worklist = physician_client.get(reverse("worklist")).context["worklist"]
    assert [row.patient for row in worklist.injections] == [ours] and worklist.injections_total == 1
    board = physician_client.get(reverse("dashboard")).context["board"]
    assert {row.patient for row in board.overdue} == {ours} and board.counts["overdue"] == 1
    assert board.counts == selectors.dashboard_counts(today=timezone.localdate(), clinics=[north])
    found = physician_client.post(reverse("patient_list"), {"q": "o"}).context["patients"]
    assert ours in found and theirs not in found
    assert physician_client.post(reverse("patient_list"), {"q": theirs.mrn}).context["patients"] == []
    reminders = physician_client.get(reverse("reminders:list"))
    assert reminders.context["reminders"] == [] and reminders.context["counts"]["failed"] == 0
    assert theirs.family_name not in reminders.content.decode()


def test_the_duplicate_check_and_the_clinic_choice_are_the_users_own(
    nurse_client: Client, theirs: Patient, north: Clinic, south: Clinic, nurse: User
) -> None:
    referral = {
        "mrn": "NEW-1",
        "given_name": theirs.given_name,
        "family_name": theirs.family_name,
        "birth_date": theirs.birth_date.isoformat(),
        "sex": "female",
        "profile": theirs.regimen.profile_id,
    }
    # Another clinic's patient of the same name and birth date is not shown, nor even hinted at.
    response = nurse_client.post(reverse("patient_create"), referral)
    assert response.status_code == 302
    assert Patient.objects.get(mrn="NEW-1").clinic == north
    # A nurse of two clinics chooses; she cannot choose one she is not on the staff of.
    nurse.clinics.add(south)
    page = nurse_client.get(reverse("patient_create")).content.decode()
    assert "South clinic" in page and 'name="clinic"' in page
    nurse.clinics.remove(south)
    refused = nurse_client.post(reverse("patient_create"), {**referral, "mrn": "NEW-2", "clinic": south.pk})
    assert refused.status_code == 200 and "clinic" in refused.context["form"].errors


def test_each_users_digest_counts_their_own_clinics(
    nurse: User, physician: User, clinic: Builder, southern: Builder, theirs: Patient, north: Clinic, south: Clinic
) -> None:
    clinic.overdue(3)
    clinic.overdue(5)
    nurse.email, physician.email = "nina@clinic.example", "phil@clinic.example"
    nurse.save()
    physician.save()
    now = timezone.now()
    today = timezone.localdate(now)
    bodies = {
        row.user.username: digest.staff_digest_email(row, today).body
        for row in StaffDigest.objects.filter(pk__in=digest.staff_digests_create(now=now, enqueue=False))
    }
    assert selectors.worklist_counts(today=today, clinics=[north])["injections"] == 2
    assert selectors.worklist_counts(today=today, clinics=[south])["injections"] == 1
    assert "Worklist: 2 injections due today or overdue" in bodies["nina"]
    assert "Worklist: 1 injection due today or overdue" in bodies["sue"]
    assert "2 injections overdue" in bodies["phil"] and "1 injection overdue" in bodies["steve"]
    # The South patient's failed reminder is South's to see.
    assert "1 patient reminder could not be sent" in bodies["steve"] and "could not be sent" not in bodies["phil"]


# The programme role -------------------------------------------------------------------------------


def test_the_programme_page_shows_each_clinics_counts_and_no_patient(
    client: Client, clinic: Builder, theirs: Patient, north: Clinic, south: Clinic, django_assert_max_num_queries
) -> None:
    ours = clinic.overdue(70, family_name="Northcote")
    lead = staff("pat", roles.PROGRAMME, north, south)
    client.force_login(lead)
    assert client.get(reverse("home"))["Location"] == reverse("programme")
    # Six queries a clinic (the dashboard's and the worklist's counts), a few for the page.
    with django_assert_max_num_queries(10 + 6 * 2):
        page = client.get(reverse("programme"))
    rows = {row["clinic"]: row for row in page.context["rows"]}
    today = timezone.localdate()
    for home in (north, south):
        assert rows[home]["dashboard"] == selectors.dashboard_counts(today=today, clinics=[home])
        assert rows[home]["worklist"] == selectors.worklist_counts(today=today, clinics=[home])
        assert rows[home]["patients"] == 1
    assert rows[north]["dashboard"]["lost"] == 1 and rows[south]["dashboard"]["overdue"] == 1
    assert page.context["totals"]["patients"] == 2
    text = page.content.decode()
    for patient in (ours, theirs):
        assert patient.family_name not in text and patient.mrn not in text
    assert "/patients/" not in text
    for url in _urls_of(theirs).values():
        assert client.post(url).status_code == 403, url
    for url in (reverse("worklist"), reverse("dashboard"), reverse("patient_list"), reverse("reminders:list")):
        assert client.get(url).status_code == 403, url


def test_only_the_programme_role_opens_the_programme_page(nurse_client: Client) -> None:
    assert nurse_client.get(reverse("programme")).status_code == 403


# A single-clinic install ---------------------------------------------------------------------------


def test_a_single_clinic_install_needs_no_set_up(settings, nurse: User, make_patient) -> None:
    clinic = Clinic.objects.get()
    assert clinic.name == settings.DEFAULT_CLINIC_NAME and only_clinic() == clinic
    assert list(clinics_of(nurse)) == [clinic]
    assert make_patient().clinic == clinic  # no clinic given: the only one


def test_with_several_clinics_the_clinic_is_required(make_patient, south: Clinic, nurse: User) -> None:
    with pytest.raises(ValidationError) as refused:
        make_patient()
    assert "clinic" in refused.value.message_dict
    with pytest.raises(ValidationError) as not_hers:
        make_patient(clinic=south)
    assert "not on the staff" in not_hers.value.message_dict["clinic"][0]


def test_a_user_the_admin_creates_joins_the_only_clinic(client: Client, superuser: User) -> None:
    client.force_login(superuser)
    client.post(
        reverse("admin:auth_user_add"),
        {"username": "newnurse", "password1": "tundra-violet-kettle", "password2": "tundra-violet-kettle"},
    )
    assert list(User.objects.get(username="newnurse").clinics.all()) == [Clinic.objects.get()]


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_existing_patients_and_staff_into_the_default_clinic(settings) -> None:
    """Back to before clinics, a patient and a user as they were, then forward again."""
    settings.DEFAULT_CLINIC_NAME = "Riverside"
    before = [("accounts", "0002_account_state"), ("patients", "0007_reminder_key")]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old = MigrationExecutor(connection).loader.project_state(before).apps
        user = old.get_model("auth", "User").objects.create(username="olduser")
        old.get_model("patients", "Patient").objects.create(
            mrn="OLD-1", given_name="Ada", family_name="Old", birth_date=datetime.date(1950, 1, 1), sex="female"
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)
    clinic = Clinic.objects.get()
    assert clinic.name == "Riverside" and clinic.slug == "riverside"
    assert Patient.objects.get(mrn="OLD-1").clinic == clinic
    assert list(User.objects.get(pk=user.pk).clinics.all()) == [clinic]
    assert Group.objects.filter(name=roles.PROGRAMME).exists()


# Transfers ----------------------------------------------------------------------------------------


@pytest.fixture
def both_clinics_physician(north: Clinic, south: Clinic) -> User:
    return staff("bea", roles.PHYSICIAN, north, south)


def test_a_transfer_moves_the_patient_with_a_reason_the_history_keeps(
    client: Client, theirs: Patient, north: Clinic, both_clinics_physician: User, nurse: User, south_nurse: User
) -> None:
    client.force_login(both_clinics_physician)
    chart = client.get(reverse("patient_detail", args=[theirs.pk])).content.decode()
    assert 'data-testid="transfer"' in chart and "South clinic" in chart
    url = reverse("patient_transfer", args=[theirs.pk])
    refused = client.post(url, {"clinic": north.pk, "reason": ""})
    assert refused.status_code == 200 and "reason" in refused.context["form"].errors
    assert client.post(url, {"clinic": north.pk, "reason": "Moved to the north of town"}).status_code == 302
    theirs.refresh_from_db()
    assert theirs.clinic == north
    record = theirs.history.first()
    assert record.history_change_reason == "Transferred from South clinic to North clinic: Moved to the north of town"
    assert record.history_user == both_clinics_physician
    nurses = Client()
    nurses.force_login(nurse)
    assert nurses.get(reverse("patient_detail", args=[theirs.pk])).status_code == 200
    nurses.force_login(south_nurse)
    assert nurses.get(reverse("patient_detail", args=[theirs.pk])).status_code == 404


def test_only_physicians_and_admins_of_both_clinics_transfer(
    theirs: Patient, north: Clinic, south_physician: User, south_nurse: User, superuser: User
) -> None:
    with pytest.raises(PermissionDenied):
        actions.patient_transfer(patient=theirs, clinic=north, reason="x", by=south_nurse)  # a nurse
    with pytest.raises(ValidationError) as refused:
        actions.patient_transfer(patient=theirs, clinic=north, reason="x", by=south_physician)  # not North's
    assert "clinic" in refused.value.message_dict
    actions.patient_transfer(patient=theirs, clinic=north, reason="Closer to home", by=superuser)
    assert Patient.objects.get(pk=theirs.pk).clinic == north


def test_a_transferred_patients_due_dates_and_alerts_count_at_the_new_clinic_only(
    theirs: Patient, north: Clinic, south: Clinic, superuser: User
) -> None:
    """The care status and alerts keep a copy of the patient's clinic for the counts: a transfer moves it."""
    today = timezone.localdate()

    def seen_by(clinic: Clinic) -> tuple[set[int], dict[str, int], dict[str, int]]:
        board = selectors.dashboard(today=today, clinics=[clinic])
        counts = selectors.dashboard_counts(today=today, clinics=[clinic])
        return board.patient_ids(), counts, selectors.worklist_counts(today=today, clinics=[clinic])

    south_before, north_before = seen_by(south), seen_by(north)
    assert theirs.pk in south_before[0] and theirs.pk not in north_before[0]
    assert south_before[1]["overdue"] == 1 and south_before[1]["alerts_high"] >= 1
    actions.patient_transfer(patient=theirs, clinic=north, reason="Closer to home", by=superuser)
    south_after, north_after = seen_by(south), seen_by(north)
    assert theirs.pk not in south_after[0] and theirs.pk in north_after[0]
    for counts in (1, 2):  # every count moves with the patient
        assert {key: south_after[counts][key] + north_after[counts][key] for key in south_after[counts]} == {
            key: south_before[counts][key] + north_before[counts][key] for key in south_before[counts]
        }
        assert all(value == 0 for value in south_after[counts].values())


def test_the_chart_offers_no_transfer_to_a_user_of_one_clinic(physician_client: Client, clinic: Builder) -> None:
    chart = physician_client.get(reverse("patient_detail", args=[clinic.on_time().pk])).content.decode()
    assert 'data-testid="transfer"' not in chart


# The admin ----------------------------------------------------------------------------------------


def test_a_clinic_admin_sees_only_their_clinics_patients_in_the_admin(
    client: Client, clinic_admin: User, clinic: Builder, theirs: Patient
) -> None:
    ours = clinic.on_time()
    client.force_login(clinic_admin)
    listing = client.get(reverse("admin:patients_patient_changelist")).content.decode()
    assert ours.mrn in listing and theirs.mrn not in listing
    for name in ("admin:patients_patient_change", "admin:patients_patient_history"):
        assert client.get(reverse(name, args=[theirs.pk])).status_code in (302, 404), name
    injections = client.get(reverse("admin:patients_injection_changelist")).content.decode()
    assert theirs.mrn not in injections
    assert client.get(reverse("admin:accounts_clinic_changelist")).status_code == 403  # superusers only
