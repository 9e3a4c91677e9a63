"""`python manage.py refresh_care_status [--all]`: the daily refresh, for operators and cron."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from care.services import care_status_refresh_all, care_status_refresh_stale
from toolkit.progress import Progress


class Command(BaseCommand):
    help = "Re-evaluate active patients whose care status is older than today (--all: every active patient)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="re-evaluate every active patient")

    def handle(self, *args: Any, **options: Any) -> None:
        progress = Progress(None, "care statuses", self.stderr, unit="patients")
        refresh = care_status_refresh_all if options["all"] else care_status_refresh_stale
        summary = refresh(progress=progress.update)
        progress.done()
        self.stdout.write(f"{summary.patients} patients re-evaluated, {summary.alerts} alerts active")
