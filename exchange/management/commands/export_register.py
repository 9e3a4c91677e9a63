"""manage.py export_register --out DIR: the whole clinic in FORMAT.md's files, which import_register
reads back. Writes an access-log row listing the patients exported."""

from __future__ import annotations

import pathlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.models import AccessEvent
from audit.services import access_event_log
from exchange.clinics import clinic_for
from exchange.exports import clinic_export, csv_bytes
from patients.models import Patient


class Command(BaseCommand):
    help = "Export the whole clinic as CSV files (patients, causes, injections, labs, symptoms, medications)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="The folder to write the files into.")
        parser.add_argument("--clinic", help="The clinic (name or slug) to export; may be left out with one clinic.")

    def handle(self, *args: Any, **options: Any) -> None:
        folder = pathlib.Path(options["out"])
        folder.mkdir(parents=True, exist_ok=True)
        try:
            clinic = clinic_for(options["clinic"])
        except LookupError as error:
            raise CommandError(str(error)) from None
        files, ids = clinic_export(patients=Patient.objects.filter(clinic=clinic))
        for name, data in files.items():
            (folder / f"{name}.csv").write_bytes(csv_bytes(data))
            self.stdout.write(f"{name}: {len(data)} rows")
        access_event_log(
            kind=AccessEvent.Kind.READ, username="manage.py", patient_ids=ids, detail="export whole clinic (command)"
        )
