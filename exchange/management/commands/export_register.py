"""manage.py export_register --out DIR: the whole clinic in FORMAT.md's files, which import_register
reads back. Writes an access-log row listing the patients exported."""

from __future__ import annotations

import pathlib
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.models import AccessEvent
from audit.services import access_event_log
from exchange.exports import clinic_export, csv_bytes


class Command(BaseCommand):
    help = "Export the whole clinic as CSV files (patients, causes, injections, labs, symptoms, medications)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="The folder to write the files into.")

    def handle(self, *args: Any, **options: Any) -> None:
        folder = pathlib.Path(options["out"])
        folder.mkdir(parents=True, exist_ok=True)
        files, ids = clinic_export()
        for name, data in files.items():
            (folder / f"{name}.csv").write_bytes(csv_bytes(data))
            self.stdout.write(f"{name}: {len(data)} rows")
        access_event_log(
            kind=AccessEvent.Kind.READ, username="manage.py", patient_ids=ids, detail="export whole clinic (command)"
        )
