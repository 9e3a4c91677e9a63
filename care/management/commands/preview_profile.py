"""`python manage.py preview_profile SLUG [--today YYYY-MM-DD]`: what the profile's draft would change.

The same preview as the page's (care.preview.profile_preview, read-only: it writes nothing, not even
a run), printed as counts; progress goes to standard error.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from care.preview import profile_preview, summary_lines
from protocols.models import ProtocolProfile, ProtocolProfileDraft
from protocols.selectors import draft_to_engine


class Command(BaseCommand):
    help = "Count what publishing a protocol profile's draft would change (dates, verdicts, alerts); writes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("profile", help="the profile's slug")
        parser.add_argument("--today", type=datetime.date.fromisoformat, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        profile = ProtocolProfile.objects.filter(slug=options["profile"]).first()
        if profile is None:
            raise CommandError(f"No protocol profile {options['profile']!r}.")
        draft = ProtocolProfileDraft.objects.filter(profile=profile).first()
        if draft is None:
            raise CommandError(f"The profile {profile.slug} has no draft: edit one in the staff app first.")
        for name, current, new in draft.changed_settings():
            self.stdout.write(f"{name}: {current} -> {new}")
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            elapsed = time.perf_counter() - started
            left = f", about {elapsed / done * (total - done):.0f} s left" if done and done < total else ""
            self.stderr.write(f"{done}/{total} patients{left}")

        preview = profile_preview(
            profile=profile, new=draft_to_engine(draft), as_of=options["today"], progress=progress
        )
        for line in summary_lines(preview.tally.as_dict()):
            self.stdout.write(line)
        elapsed = time.perf_counter() - started
        self.stderr.write(f"{preview.tally.patients} patients in {elapsed:.1f} s")
