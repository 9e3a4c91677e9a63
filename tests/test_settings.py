"""Settings come from the environment and fail loudly; production settings pass `check --deploy`."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from b12clinic import env

ROOT = Path(__file__).resolve().parent.parent


def _clean_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """Only what a fresh shell would have, plus `variables`; runtime files go under tmp_path."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return {**base, "VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "b12clinic.settings", **variables}


def _run(args: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def _settings(tmp_path: Path, names: list[str], **variables: str) -> dict[str, object]:
    code = (
        "import django, json; from django.conf import settings; django.setup();"
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}, default=str))"
    )
    result = _run(["-c", code], _clean_env(tmp_path, **variables))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _settings_error(tmp_path: Path, **variables: str) -> str:
    result = _run(["-c", "import django; django.setup()"], _clean_env(tmp_path, **variables))
    assert result.returncode != 0
    return result.stderr.strip().splitlines()[-1]


def test_it_passes_check_deploy_with_production_settings(tmp_path: Path) -> None:
    environment = _clean_env(
        tmp_path,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="clinic.example.org",
        SITE_URL="https://clinic.example.org",
    )
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], environment)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert result.stderr == ""


def test_check_refuses_a_site_url_that_is_not_https_in_production(tmp_path: Path) -> None:
    environment = _clean_env(
        tmp_path, DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="clinic.example.org"
    )
    result = _run(["manage.py", "check"], environment)
    assert result.returncode != 0 and "b12clinic.E002" in result.stderr and "SITE_URL" in result.stderr


def test_smtp_uses_tls_by_default_when_a_host_is_set(tmp_path: Path) -> None:
    values = _settings(tmp_path, ["EMAIL_USE_TLS", "EMAIL_USE_SSL"], DEBUG="1", EMAIL_HOST="smtp.example.org")
    assert values == {"EMAIL_USE_TLS": True, "EMAIL_USE_SSL": False}
    values = _settings(
        tmp_path, ["EMAIL_USE_TLS", "EMAIL_USE_SSL"], DEBUG="1", EMAIL_HOST="smtp.example.org", EMAIL_USE_SSL="1"
    )
    assert values == {"EMAIL_USE_TLS": False, "EMAIL_USE_SSL": True}


@pytest.mark.parametrize(
    ("variables", "names_in_message"),
    [
        ({"DEBUG": "maybe"}, ["DEBUG", "maybe"]),
        ({"DEBUG": "1", "CLINIC_TIME_ZONE": "Mars/Olympus_Mons"}, ["CLINIC_TIME_ZONE", "Mars/Olympus_Mons"]),
        ({"DEBUG": "1", "EMAIL_HOST": "smtp.example.org", "EMAIL_PORT": "twenty-five"}, ["EMAIL_PORT"]),
        (
            {"DEBUG": "1", "EMAIL_HOST": "smtp.example.org", "EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"},
            ["EMAIL_USE_SSL"],
        ),
    ],
)
def test_it_refuses_to_start_on_bad_settings(
    tmp_path: Path, variables: dict[str, str], names_in_message: list[str]
) -> None:
    message = _settings_error(tmp_path, **variables)
    assert message.startswith("django.core.exceptions.ImproperlyConfigured")
    for name in names_in_message:
        assert name in message


def test_it_refuses_to_serve_or_migrate_without_a_secret_key_when_debug_is_off(tmp_path: Path) -> None:
    environment = _clean_env(tmp_path, DEBUG="0", ALLOWED_HOSTS="clinic.example.org")
    for args in (
        ["manage.py", "check"],
        ["manage.py", "migrate", "--check"],
        ["-c", "import b12clinic.wsgi"],
        ["-c", "import b12clinic.asgi"],
    ):
        result = _run(args, environment)
        assert result.returncode != 0, args
        assert "SECRET_KEY" in result.stderr, args


def test_nothing_can_sign_with_a_missing_secret_key(tmp_path: Path) -> None:
    # A Celery worker started without SECRET_KEY fails at the first signature (e.g. an opt-out link).
    environment = _clean_env(tmp_path, DEBUG="0", ALLOWED_HOSTS="clinic.example.org")
    code = "import django; django.setup(); from django.core import signing; signing.dumps(1)"
    result = _run(["-c", code], environment)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_the_engine_command_needs_no_secret_key(tmp_path: Path) -> None:
    environment = _clean_env(tmp_path, DEBUG="0")
    result = subprocess.run(
        [sys.executable, "manage.py", "evaluate_case", "-"],
        cwd=ROOT,
        env=environment,
        input='{"as_of": "2026-01-08"}',
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["phase"] == "not_started"


def test_it_defaults_to_embedded_sqlite_filesystem_broker_and_file_mail(tmp_path: Path) -> None:
    values = _settings(
        tmp_path,
        [
            "DATABASES",
            "CELERY_BROKER_URL",
            "CELERY_BROKER_TRANSPORT_OPTIONS",
            "EMAIL_BACKEND",
            "ALLOWED_HOSTS",
            "TIME_ZONE",
        ],
        DEBUG="1",
    )
    database = values["DATABASES"]["default"]  # type: ignore[index]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "var" / "b12clinic.sqlite3")
    assert database["OPTIONS"] == {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;",
    }
    assert values["CELERY_BROKER_URL"] == "filesystem://"
    options = values["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["data_folder_in"] == options["data_folder_out"] == str(tmp_path / "var" / "celery" / "queue")  # type: ignore[index]
    assert options["control_folder"] == str(tmp_path / "var" / "celery" / "control")  # type: ignore[index]
    assert (tmp_path / "var" / "celery" / "processed").is_dir()
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend"
    assert values["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1"]
    assert values["TIME_ZONE"] == "Europe/London"


def test_it_uses_postgres_redis_and_smtp_when_configured(tmp_path: Path) -> None:
    values = _settings(
        tmp_path,
        ["DATABASES", "CELERY_BROKER_URL", "EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_TIMEOUT", "TIME_ZONE"],
        DEBUG="1",
        DATABASE_URL="postgres://clinic:secret@db.example.org:5432/b12",
        REDIS_URL="redis://cache.example.org:6379/1",
        EMAIL_HOST="smtp.example.org",
        EMAIL_PORT="465",
        CLINIC_TIME_ZONE="America/Toronto",
    )
    database = values["DATABASES"]["default"]  # type: ignore[index]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["NAME"], database["CONN_MAX_AGE"]) == ("db.example.org", "b12", 60)
    assert values["CELERY_BROKER_URL"] == "redis://cache.example.org:6379/1"
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (values["EMAIL_HOST"], values["EMAIL_PORT"], values["EMAIL_TIMEOUT"]) == ("smtp.example.org", 465, 10)
    assert values["TIME_ZONE"] == "America/Toronto"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("", False),
    ],
)
def test_it_reads_booleans(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("B12_TEST_FLAG", raw)
    assert env.env_bool("B12_TEST_FLAG", not expected) is expected


@pytest.mark.parametrize(
    ("reader", "raw"),
    [(lambda: env.env_bool("B12_TEST_VALUE"), "perhaps"), (lambda: env.env_int("B12_TEST_VALUE", 1), "1.5")],
)
def test_it_names_the_variable_of_a_bad_value(monkeypatch: pytest.MonkeyPatch, reader, raw: str) -> None:
    monkeypatch.setenv("B12_TEST_VALUE", raw)
    with pytest.raises(ImproperlyConfigured, match="B12_TEST_VALUE"):
        reader()


def test_it_reads_defaults_lists_and_required_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("B12_TEST_VALUE", raising=False)
    assert env.env_int("B12_TEST_VALUE", 7) == 7
    assert env.env_list("B12_TEST_VALUE", ["a"]) == ["a"]
    assert env.env_str("B12_TEST_VALUE", "fallback") == "fallback"
    with pytest.raises(ImproperlyConfigured, match="Set the environment variable B12_TEST_VALUE"):
        env.env_str("B12_TEST_VALUE")
    monkeypatch.setenv("B12_TEST_VALUE", " a.example.org, ,b.example.org ")
    assert env.env_list("B12_TEST_VALUE") == ["a.example.org", "b.example.org"]


def test_it_runs_tests_with_a_fast_hasher_and_plain_static_storage(settings) -> None:
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert settings.STORAGES["staticfiles"]["BACKEND"].endswith("StaticFilesStorage")
    assert not settings.STORAGES["staticfiles"]["BACKEND"].startswith("whitenoise")


def test_it_hardens_production(tmp_path: Path) -> None:
    values = _settings(
        tmp_path,
        ["STORAGES", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "X_FRAME_OPTIONS", "DEBUG"],
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="clinic.example.org",
    )
    assert values["STORAGES"]["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"  # type: ignore[index]
    assert values["SECURE_SSL_REDIRECT"] and values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert (values["X_FRAME_OPTIONS"], values["DEBUG"]) == ("DENY", False)


def test_task_time_limits_come_from_settings() -> None:
    """The limits live in settings (CELERY_TASK_ANNOTATIONS), not in the task decorators."""
    from django.conf import settings

    from b12clinic.celery import app

    app.loader.import_default_modules()
    for name, limits in settings.CELERY_TASK_ANNOTATIONS.items():
        task = app.tasks[name]
        assert (task.soft_time_limit, task.time_limit) == (limits["soft_time_limit"], limits["time_limit"]), name
    assert app.tasks["reminders.tasks.send_reminder"].time_limit == settings.SEND_TASK_TIME_LIMIT
    assert app.tasks["reminders.tasks.send_batch"].time_limit == settings.SEND_TASK_TIME_LIMIT
