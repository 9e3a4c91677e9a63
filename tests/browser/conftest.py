"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Every test fails on a JavaScript error or a console error (unless it names the one it expects). In CI
a missing Chromium is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection

from accounts import roles
from accounts.clinics import ensure_default_clinic
from accounts.models import Clinic
from protocols.models import ProtocolProfile

# Playwright's sync API runs an event loop in this thread; the ORM calls of the tests are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI: {message}", pytrace=False)
        pytest.skip(message)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # A landscape tablet.
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}


class BrowserErrors:
    """JavaScript errors and console errors seen by the page; a test may expect one by pattern."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def expect(self, pattern: str) -> None:
        matching = [m for m in self.messages if re.search(pattern, m)]
        assert matching, f"expected a console error matching {pattern!r}, saw {self.messages}"
        self.messages = [m for m in self.messages if m not in matching]


@pytest.fixture
def browser_errors(page: Any) -> Iterator[BrowserErrors]:
    errors = BrowserErrors()
    page.on("pageerror", lambda error: errors.messages.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda message: errors.messages.append(f"console: {message.text}") if message.type == "error" else None,
    )
    page.set_default_timeout(10_000)
    yield errors
    assert errors.messages == [], f"JavaScript or console errors: {errors.messages}"


def _reset_to_migrated() -> None:
    """Put back the rows the migrations created (role groups, built-in profiles) when a transactional
    test's flush removed them: exactly as serialized at set-up when pytest-django serialized the test
    database, else recreated."""
    if Group.objects.filter(name=roles.NURSE).exists() and ProtocolProfile.objects.exists() and Clinic.objects.exists():
        return
    contents = getattr(connection, "_test_serialized_contents", None)
    if contents:
        call_command("flush", interactive=False, inhibit_post_migrate=True, verbosity=0)
        connection.creation.deserialize_db_from_string(contents)
        return
    if not ProtocolProfile.objects.exists():
        import_module("protocols.migrations.0002_builtin_profiles").create_builtin_profiles(apps, None)
    roles.grant_role_permissions(Group, Permission)
    ensure_default_clinic()


@pytest.fixture
def clinic_db(transactional_db: None) -> None:
    """A transactional database (the live server's threads must see the test's rows) with the rows
    the migrations made."""
    _reset_to_migrated()


@pytest.fixture(scope="module")
def leave_the_migrated_rows(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """After the module, leave the migrated rows for the tests that follow (the last flush removed them)."""
    yield
    with django_db_blocker.unblock():
        _reset_to_migrated()


browser_db = pytest.mark.usefixtures("clinic_db", "leave_the_migrated_rows")


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
