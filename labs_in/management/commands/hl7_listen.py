"""python manage.py hl7_listen : the MLLP listener, run as its own process (Procfile `hl7`)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labs_in import actions
from labs_in.listener import MllpListener


class Command(BaseCommand):
    help = "Receive ORU^R01 lab results over MLLP and answer each with its ACK (until SIGTERM or Ctrl-C)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.HL7_HOST, help="Default: HL7_HOST (127.0.0.1).")
        parser.add_argument("--port", type=int, default=settings.HL7_PORT, help="Default: HL7_PORT (2575).")
        parser.add_argument(
            "--drop-folder",
            default=settings.HL7_DROP_FOLDER,
            help="Watch this folder too (default: HL7_DROP_FOLDER, var/hl7-in); '' for none.",
        )
        parser.add_argument(
            "--clinic", default=None, help="The clinic's slug (default: HL7_CLINIC; blank: every clinic)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            clinic = actions.serving_clinic(options["clinic"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        folder = Path(options["drop_folder"]) if options["drop_folder"] else None
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
        listener = MllpListener(host=options["host"], port=options["port"], clinic=clinic, drop_folder=folder)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, ValueError, RuntimeError):
                    loop.add_signal_handler(sig, listener.stop)
            task = asyncio.create_task(listener.serve())
            await asyncio.get_running_loop().run_in_executor(None, listener.ready.wait, 30)
            if listener.address:
                host, port = listener.address
                self.stdout.write(f"Listening for HL7 (MLLP) on {host}:{port}, for {clinic or 'every clinic'}.")
                if folder:
                    self.stdout.write(f"Watching the drop folder {folder}.")
            await task

        try:
            asyncio.run(main())
        except OSError as error:
            raise CommandError(f"Cannot listen on {options['host']}:{options['port']}: {error}") from error
        self.stdout.write("Stopped.")
