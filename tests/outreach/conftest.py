"""Fixtures of the outreach tests: a call-centre user, the UI builders' clinic, and a spy on the
appointment notice seam (reminders.appointments, built beside this work) that records each call and
whether it came inside the action's transaction."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone

from accounts import roles
from accounts.clinics import staff_join_only_clinic
from outreach.models import Appointment
from tests.ui.builders import Clinic


@pytest.fixture
def call_centre(db: None) -> User:
    user = User.objects.create_user(username="cora", password="pw")
    user.groups.add(Group.objects.get(name=roles.CALL_CENTRE))
    staff_join_only_clinic(user)
    return user


@pytest.fixture
def clinic(nurse: User, physician: User) -> Clinic:
    return Clinic(nurse=nurse, physician=physician)


class Notices(list):
    """(appointment, change, depth of atomic blocks at the call) per call of the seam."""

    def changes(self) -> list[tuple[int, str]]:
        return [(appointment.pk, change) for appointment, change, _ in self]

    def all_inside_a_transaction_deeper_than(self, depth: int) -> bool:
        return all(inside > depth for _, _, inside in self)


@pytest.fixture
def notices(monkeypatch: pytest.MonkeyPatch) -> Notices:
    seen = Notices()

    def spy(*, appointment: Appointment, change: str, now: datetime.datetime) -> None:
        seen.append((appointment, change, len(connection.atomic_blocks)))

    monkeypatch.setattr("clinic.actions.appointment_notice_queue", spy)
    return seen


def tomorrow_at(hour: int, minute: int = 0, *, zone: Any = None, days: int = 1) -> datetime.datetime:
    day = timezone.localdate() + datetime.timedelta(days=days)
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=zone or timezone.get_current_timezone())
