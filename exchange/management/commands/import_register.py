"""manage.py import_register: bring a clinic's register in (../shared/import/FORMAT.md).

Exit status 0 when saved (or a clean dry run), 2 when any row is refused (nothing saved), 3 when there
are warnings and no --accept-warnings (nothing saved)."""

from __future__ import annotations

import pathlib
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import roles
from exchange.importer import FILES, Upload, import_register
from exchange.models import ImportRun
from toolkit.progress import Progress


class Command(BaseCommand):
    help = "Import a clinic's register (patients, causes, injections, labs, symptoms) from CSV or XLSX files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clinic", help="The clinic (site) the patients belong to; optional with one clinic.")
        for name in FILES:
            parser.add_argument(f"--{name}", metavar=name[0].upper(), help=f"The {name} file (CSV or XLSX).")
        parser.add_argument("--date-format", help="strptime format of the dates, e.g. %%d/%%m/%%Y (default ISO).")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; save nothing.")
        parser.add_argument("--accept-warnings", action="store_true", help="Save rows with soft warnings.")
        parser.add_argument(
            "--user", help="Who imports (a clinic admin's login; default: the only clinic admin or superuser)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        uploads = []
        for name in FILES:
            if options[name]:
                path = pathlib.Path(options[name])
                try:
                    uploads.append(Upload(name, path.name, path.read_bytes()))
                except OSError as error:
                    raise CommandError(f"{path}: {error.strerror}") from None
        if not uploads:
            raise CommandError("Give at least one file: --patients, --causes, --injections, --labs or --symptoms.")
        user = _importer(options["user"])
        rows = Progress(None, "import", self.stderr, unit="rows")
        care = Progress(None, "care statuses", self.stderr, unit="patients")
        report = import_register(
            uploads,
            by=user,
            clinic=options["clinic"],
            date_format=options["date_format"],
            dry_run=options["dry_run"],
            accept_warnings=options["accept_warnings"],
            progress=rows.update,
            care_progress=care.update,
        )
        rows.done()
        care.done()
        ImportRun.record(report=report, uploads=uploads, by=user, source=ImportRun.Source.COMMAND)
        for note in report.notes:
            self.stderr.write(f"note: {note}")
        for problem in [*report.errors, *report.warnings]:
            self.stderr.write(str(problem))
        if report.errors:
            self.stderr.write(f"{len(report.errors)} problems: nothing was saved.")
        elif report.warnings and not report.warnings_accepted:
            self.stderr.write(f"{len(report.warnings)} warnings: nothing was saved; --accept-warnings saves them.")
        for line in report.lines():
            self.stdout.write(line)
        if report.exit_code:
            sys.exit(report.exit_code)


def _importer(username: str | None) -> Any:
    users = get_user_model().objects.filter(is_active=True)
    if username:
        user = users.filter(username=username).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        return user
    admins = list(users.filter(groups__name=roles.CLINIC_ADMIN)) or list(users.filter(is_superuser=True))
    if len(admins) != 1:
        raise CommandError("Say who imports with --user (a clinic admin's login).")
    return admins[0]
