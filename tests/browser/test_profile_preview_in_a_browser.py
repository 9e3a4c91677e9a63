"""A clinic admin changes a protocol profile in Chromium: the draft is saved, its preview runs with a
progress bar and lists what would change for whom, then it is published and the patients re-evaluated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from care import tasks
from care.models import CareStatus
from tests.browser.conftest import BrowserErrors, browser_db
from tests.browser.test_clinic_in_a_browser import log_in
from tests.ui.builders import Clinic

pytestmark = browser_db


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The queue: the page queues the real task; the test plays the worker and runs it when it likes."""
    queued: list[int] = []
    monkeypatch.setattr(tasks.run_profile, "delay", queued.append)
    return queued


def test_a_clinic_admin_previews_then_publishes_a_profile_change(
    page: Page,
    live_server: Any,
    browser_errors: BrowserErrors,
    nurse,
    physician,
    clinic_admin,
    worker: list[int],
    screenshots: Path,
) -> None:
    clinic = Clinic(nurse=nurse, physician=physician)
    on_time = clinic.on_time(family_name="Lovelace", given_name="Ada")
    clinic.overdue(10, family_name="Babbage", given_name="Charles")
    clinic.lifelong(family_name="Hopper", given_name="Grace")
    before = CareStatus.objects.get(patient=on_time).next_injection_due

    log_in(page, live_server, "ada")
    page.get_by_role("link", name="Protocol profiles").click()
    page.locator('tr[data-profile="monthly-cyanocobalamin"]').get_by_role("link", name="Change").click()
    page.get_by_label("Maintenance interval months").fill("2")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_test_id("changed-settings")).to_contain_text("Maintenance interval months")

    page.get_by_role("button", name="Preview what it would change").click()
    expect(page.get_by_test_id("run-progress")).to_be_visible()  # queued: the bar waits for the worker
    tasks.run_profile(worker.pop())
    counts = page.get_by_test_id("preview-counts")  # htmx polls, sees the run finished, reloads
    expect(counts.locator('[data-count="next_injection"]')).to_contain_text("later")
    expect(page.get_by_test_id("preview-patients")).to_contain_text("Lovelace")
    expect(page.get_by_test_id("preview-csv")).to_be_visible()
    assert CareStatus.objects.get(patient=on_time).next_injection_due == before  # nothing changed yet
    page.screenshot(path=str(screenshots / "profile-preview.png"), full_page=True)

    page.get_by_test_id("publish").click()
    tasks.run_profile(worker.pop())
    expect(page.get_by_test_id("publish-counts")).to_contain_text("re-evaluated with v2")
    status = CareStatus.objects.get(patient=on_time)
    assert status.profile_version == 2 and status.next_injection_due > before
