from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from accounts import roles
from accounts.models import Clinic
from clinic import actions
from fhir_api import actions as fhir_actions
from patients.models import Patient
from patients.plausibility import CODES
from tests.conftest import NOW, TODAY
from tests.ui.conftest import nurse_client  # noqa: F401  (the queue page)


@pytest.fixture
def token_for() -> Callable[[User], str]:
    def make(user: User, **extra: Any) -> str:
        return fhir_actions.token_create(user=user, label="test", now=timezone.now(), **extra).secret

    return make


@pytest.fixture
def api(client: Client) -> Callable[..., Any]:
    """client.get/post/delete with a bearer token: api("get", url, token, **extra)."""

    def call(method: str, url: str, token: str | None, **extra: Any) -> Any:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        return getattr(client, method)(url, **headers, **extra)

    return call


@pytest.fixture
def south(nurse: User, physician: User) -> Clinic:
    """A second clinic, made after the standing users joined the first."""
    return Clinic.objects.create(name="South", slug="south")


@pytest.fixture
def south_physician(south: Clinic) -> User:
    user = User.objects.create_user(username="sophie", password="pw")
    user.groups.add(Group.objects.get(name=roles.PHYSICIAN))
    south.staff.add(user)
    return user


@pytest.fixture
def charted(make_patient: Callable[..., Patient], nurse: User, physician: User) -> Patient:
    """A patient with a cause, two injections (one entered in error), three labs (one in pmol/L, one
    entered in error) and a care status."""
    north = Clinic.objects.order_by("pk").first()  # the fresh database's clinic, the staff's
    patient = make_patient(mrn="MRN-100", phone="01234 567890", email="alice@example.org", clinic=north)
    actions.cause_add(
        patient=patient, kind="pernicious_anemia", by=physician, start=datetime.date(2025, 6, 1), today=TODAY
    )
    actions.cause_add(patient=patient, kind="metformin", by=physician, start=datetime.date(2020, 1, 1), today=TODAY)
    base = {
        "drug": "hydroxocobalamin",
        "dose_mcg": 1000,
        "route": "im",
        "site": "left_deltoid",
        "lot_number": "HY-1",
        "lot_expiry": datetime.date(2027, 1, 31),
        "given_by": nurse,
        "now": NOW,
    }
    actions.injection_record(patient=patient, given_at=NOW - datetime.timedelta(days=2), confirmed=CODES, **base)
    wrong = actions.injection_record(
        patient=patient, given_at=NOW - datetime.timedelta(hours=1), confirmed=CODES, **base
    )
    actions.injection_void(injection=wrong, by=nurse, reason="Recorded on the wrong patient", now=NOW)
    for value, unit in (("150", "pg/mL"), ("250", "pmol/L"), ("180", "pg/mL")):
        lab = actions.lab_result_record(
            patient=patient,
            analyte="b12",
            value=value,
            unit=unit,
            collected_on=TODAY - datetime.timedelta(days=10),
            entered_by=nurse,
            today=TODAY,
            now=NOW,
            confirmed=CODES,
        )
    actions.lab_result_void(lab=lab, by=nurse, reason="Typed twice", now=NOW)
    return Patient.objects.get(pk=patient.pk)
