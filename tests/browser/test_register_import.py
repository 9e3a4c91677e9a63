"""A clinic admin brings the register in, in Chromium: a file with problems is checked and its
problems listed, the fixed file imported with a progress bar, and the patients are on the worklist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from exchange import tasks
from exchange.models import ImportRun
from tests.browser.conftest import BrowserErrors, browser_db
from tests.browser.test_clinic_in_a_browser import log_in

pytestmark = browser_db

HEADER = "mrn;first_name;last_name;birth_date;sex\n"
BROKEN = HEADER + "IMP-1;Grace;Hopper;09/12/1906;f\nIMP-2;Edsger;Dijkstra;1930-05-11;x\n"
FIXED = HEADER + "IMP-1;Grace;Hopper;1906-12-09;f\nIMP-2;Edsger;Dijkstra;1930-05-11;m\n"
CAUSES = "mrn,code\nIMP-1,pernicious_anemia\nIMP-2,pernicious_anemia\n"


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The queue: the page queues the real task; the test plays the worker and runs it when it likes."""
    queued: list[int] = []
    monkeypatch.setattr(tasks.run_import, "delay", queued.append)
    return queued


def _choose(page: Page, field: str, name: str, text: str) -> None:
    page.set_input_files(f"#id_{field}", files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}])


def test_a_clinic_admin_checks_fixes_and_imports_the_register(
    page: Page, live_server: Any, browser_errors: BrowserErrors, clinic_admin, worker: list[int], screenshots: Path
) -> None:
    log_in(page, live_server, "ada")
    page.get_by_role("link", name="Import and export").click()
    expect(page.get_by_test_id("templates")).to_contain_text("patients.csv")

    _choose(page, "patients", "register.csv", BROKEN)
    _choose(page, "causes", "causes.csv", CAUSES)
    page.get_by_role("button", name="Check the files").click()
    expect(page.get_by_test_id("import-progress")).to_be_visible()  # queued: the bar waits for the worker
    tasks.run_import(worker.pop())
    problems = page.get_by_test_id("import-problems")  # htmx polls, sees the run finished, reloads
    expect(problems).to_contain_text("birth_date")
    expect(problems).to_contain_text("'09/12/1906' is not a date")
    expect(problems.locator("tbody tr")).to_have_count(2)
    expect(problems).to_contain_text("'x' is not a sex")
    expect(page.get_by_role("button", name="Import")).to_have_count(0)
    page.screenshot(path=str(screenshots / "import-problems.png"), full_page=True)

    page.get_by_role("link", name="Check other files").click()
    _choose(page, "patients", "register.csv", FIXED)
    _choose(page, "causes", "causes.csv", CAUSES)
    page.get_by_role("button", name="Check the files").click()
    tasks.run_import(worker.pop())
    expect(page.get_by_test_id("import-counts").locator('[data-file="patients"]')).to_contain_text("2")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-progress").locator("progress")).to_be_visible()
    tasks.run_import(worker.pop())
    expect(page.get_by_test_id("import-status")).to_contain_text("Saved")
    expect(page.get_by_test_id("import-done")).to_be_visible()
    assert ImportRun.objects.filter(status=ImportRun.Status.SAVED).count() == 1

    page.get_by_role("link", name="Today's worklist").last.click()
    injections = page.get_by_test_id("injections-due")
    expect(injections.locator('tr[data-patient="IMP-1"]')).to_be_visible()
    expect(injections.locator('tr[data-patient="IMP-2"]')).to_be_visible()
