"""Shared fixtures: one user per role, a stranger, a patient, a fixed `today`, and the servers CI needs."""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from accounts import roles
from accounts.clinics import staff_join_only_clinic
from accounts.models import Clinic
from clinic import actions
from patients.models import Patient

TODAY = datetime.date(2026, 3, 1)
# The selectors' `clinics` for a test about something else: every clinic (a lazy queryset).
EVERY_CLINIC = Clinic.objects.all()
NOW = timezone.make_aware(datetime.datetime(2026, 3, 1, 12, 0))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """On SQLite the test database is a file (settings_test, for the reminder tests' workers); remove
    the WAL files a connection still open at its deletion leaves beside it."""
    from django.conf import settings

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if name and not os.path.exists(name):
        for suffix in ("-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{name}{suffix}")


# Fixtures that start or reach a real server: a test using one is marked `services`.
SERVICE_FIXTURES = frozenset(
    {"smtp", "smtp_session", "private_redis", "celery_workers", "redis_url", "postgres_database", "live_server"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow tests by what they need, so `-m "not browser and not services"` leaves them out."""
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)
        if SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("services"):
            item.add_marker(pytest.mark.services)


def _require_server(name: str, reason: str) -> None:
    """In CI a missing server is a failure (CI must prove the real thing runs); elsewhere a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI: {reason}", pytrace=False)
    pytest.skip(f"{name} not available: {reason}")


def reachable_redis_url() -> str:
    """A reachable Redis (REDIS_URL or CELERY_BROKER_URL); fails the test in CI when there is none,
    skips it elsewhere."""
    url = os.environ.get("REDIS_URL") or os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        _require_server("Redis", "set REDIS_URL=redis://...")
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        _require_server("Redis", f"{url}: {error}")
    finally:
        client.close()
    return url


@pytest.fixture
def redis_url() -> str:
    return reachable_redis_url()


@pytest.fixture
def postgres_database() -> str:
    """The DATABASE_URL when it points at PostgreSQL; fails in CI otherwise."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        _require_server("PostgreSQL", "set DATABASE_URL=postgres://...")
    return url


@pytest.fixture
def today() -> datetime.date:
    return TODAY


@pytest.fixture
def now() -> datetime.datetime:
    return NOW


def _user(username: str, role: str | None = None, **extra: Any) -> User:
    """A user of `role` on the staff of the one clinic a fresh database has (as the admin makes one)."""
    user = User.objects.create_user(username=username, password="pw", **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    staff_join_only_clinic(user)
    return user


@pytest.fixture
def nurse(db: None) -> User:
    return _user("nina", roles.NURSE)


@pytest.fixture
def physician(db: None) -> User:
    return _user("phil", roles.PHYSICIAN)


@pytest.fixture
def clinic_admin(db: None) -> User:
    return _user("ada", roles.CLINIC_ADMIN, is_staff=True)


@pytest.fixture
def stranger(db: None) -> User:
    """Logged in, but in no role."""
    return _user("sam")


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser(username="root", password="pw")


@pytest.fixture
def make_patient(db: None, nurse: User) -> Callable[..., Patient]:
    counter = iter(range(1, 10_000))

    def make(**overrides: Any) -> Patient:
        values: dict[str, Any] = {
            "mrn": f"T-{next(counter):04d}",
            "given_name": "Alice",
            "family_name": "Example",
            "birth_date": datetime.date(1970, 5, 10),
            "sex": "female",
            "by": nurse,
            "today": TODAY,
        }
        values.update(overrides)
        return actions.patient_create(**values)

    return make


@pytest.fixture
def patient(make_patient: Callable[..., Patient]) -> Patient:
    return make_patient()


@pytest.fixture
def injection_kwargs(patient: Patient, nurse: User) -> dict[str, Any]:
    """A valid actions.injection_record call; tests override one argument at a time."""
    return {
        "patient": patient,
        "given_at": NOW - datetime.timedelta(hours=1),
        "drug": "cyanocobalamin",
        "dose_mcg": 1000,
        "route": "im",
        "site": "left_deltoid",
        "lot_number": "CY2601-01",
        "lot_expiry": datetime.date(2027, 1, 31),
        "given_by": nurse,
        "now": NOW,
    }
