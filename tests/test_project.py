"""The project as a whole: migrations, the demo seed, the database and broker it really runs on."""

from __future__ import annotations

import datetime
import io
import os
from dataclasses import asdict
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from kombu import Connection

from b12clinic.celery import app as celery_app
from care.models import CareAlert, CareStatus
from patients.models import Cause, Injection, LabResult, Medication, Patient, Regimen, SymptomCheck
from protocols.engine.profiles import BUILTIN_PROFILES
from protocols.engine.rules import ALERT_SEVERITY
from protocols.models import ProtocolProfile

SEED_TODAY = datetime.date(2026, 3, 1)
COUNTED = [User, Patient, Cause, Regimen, Injection, LabResult, SymptomCheck, Medication]


@pytest.mark.django_db
def test_it_has_a_migration_for_every_model_change() -> None:
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # exits non-zero on a missing one
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", BUILTIN_PROFILES)
def test_it_seeds_the_builtin_profiles_field_by_field(slug: str) -> None:
    stored = ProtocolProfile.objects.get(slug=slug)
    for name, value in asdict(BUILTIN_PROFILES[slug]).items():
        expected = list(value) if isinstance(value, tuple) else value
        assert getattr(stored, name) == expected, name


@pytest.mark.django_db
@time_machine.travel(datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC), tick=False)
def test_it_seeds_a_demo_clinic_twice_without_duplicates() -> None:
    out = io.StringIO()
    call_command("seed_demo", "--today", SEED_TODAY.isoformat(), "--even-without-debug", stdout=out)
    # The demo shows every phase, verdict and alert of GUIDANCE.md, as the engine sees it.
    statuses = CareStatus.objects.filter(patient__is_active=True)
    assert statuses.count() == Patient.objects.filter(is_active=True).count()
    assert set(statuses.values_list("phase", flat=True)) == {"not_started", "loading", "maintenance", "oral"}
    assert set(statuses.values_list("verdict", flat=True)) == {"lifelong", "continue", "oral_switch_candidate"}
    fired = set(CareAlert.objects.values_list("rule", flat=True))
    assert fired == set(ALERT_SEVERITY)
    counts = {model.__name__: model.objects.count() for model in COUNTED}
    history = {model.__name__: model.history.count() for model in COUNTED[1:]}

    call_command("seed_demo", "--today", SEED_TODAY.isoformat(), "--even-without-debug", stdout=io.StringIO())
    assert {model.__name__: model.objects.count() for model in COUNTED} == counts
    assert {model.__name__: model.history.count() for model in COUNTED[1:]} == history

    assert counts["Patient"] >= 45
    assert "nurse" in out.getvalue() and "b12-demo-pass" in out.getvalue()
    assert set(Cause.objects.values_list("kind", flat=True)) == {choice for choice, _ in Cause.Kind.choices}
    assert Patient.objects.filter(causes__isnull=True).exists()
    assert Regimen.objects.filter(maintenance_interval_months__isnull=False).count() >= 2
    assert Regimen.objects.filter(oral_since__isnull=False).count() >= 2
    assert set(LabResult.objects.values_list("unit_entered", flat=True)) >= {"pg/mL", "pmol/L", "umol/L", "ng/mL"}
    assert Medication.objects.filter(name="folic_acid").exists()
    assert Patient.objects.filter(is_active=False).exists()
    for username, role in (("nurse", "nurse"), ("physician", "physician"), ("admin", "clinic_admin")):
        assert User.objects.get(username=username).groups.filter(name=role).exists()
    assert User.objects.get(username="admin").is_superuser


@pytest.mark.django_db
def test_it_runs_on_postgresql_when_database_url_says_so(postgres_database: str) -> None:
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")


def test_it_configures_celery_for_safe_json_tasks() -> None:
    conf = celery_app.conf
    assert conf.broker_url == settings.CELERY_BROKER_URL
    assert (conf.task_serializer, conf.accept_content) == ("json", ["json"])
    assert conf.task_acks_late is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit


def test_it_passes_messages_through_the_embedded_filesystem_broker(tmp_path: Path) -> None:
    folders = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    with Connection("filesystem://", transport_options=folders) as broker:
        queue = broker.SimpleQueue("b12-test")
        queue.put({"hello": "clinic"})
        message = queue.get(timeout=2)
        message.ack()
        assert message.payload == {"hello": "clinic"}
        queue.close()


def test_it_passes_messages_through_redis(redis_url: str) -> None:
    with Connection(redis_url) as broker:
        queue = broker.SimpleQueue(f"b12-test-{os.getpid()}")
        queue.put({"hello": "clinic"})
        message = queue.get(timeout=5)
        message.ack()
        assert message.payload == {"hello": "clinic"}
        queue.clear()
        queue.close()


def test_it_points_celery_at_redis_in_ci(redis_url: str) -> None:
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1)
    elif os.environ.get("CI"):
        pytest.fail("CI must run with CELERY_BROKER_URL pointing at Redis")
