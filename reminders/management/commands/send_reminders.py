"""`python manage.py send_reminders`: one scan, and every ready reminder sent here, without a broker."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from reminders.beat import reminders_send_now


class Command(BaseCommand):
    help = "Run one reminder scan and send what is ready synchronously (for operators and cron)."

    def handle(self, *args: Any, **options: Any) -> None:
        run = reminders_send_now(now=timezone.now())
        scan = run.scan
        if not scan.in_window:
            self.stdout.write("Outside the send window: no patient reminder is created or sent now.")
        self.stdout.write(
            f"created {scan.created}, skipped {scan.skipped}, expired {scan.expired}, requeued {scan.requeued}"
        )
        outcomes = ", ".join(f"{status} {count}" for status, count in sorted(run.outcomes.items())) or "nothing to send"
        self.stdout.write(f"sent: {outcomes}")
