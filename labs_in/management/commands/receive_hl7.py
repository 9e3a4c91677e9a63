"""python manage.py receive_hl7 FILE... : the listener's work on messages read from files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labs_in import actions, hl7in


class Command(BaseCommand):
    help = (
        "Receive ORU^R01 messages from files (one or more a file, MLLP-framed or not, segments ended by CR or LF) "
        "exactly as the MLLP listener does, and print each message's ACK."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="Files of HL7 messages; - for standard input.")
        parser.add_argument(
            "--clinic", default=None, help="The clinic's slug (default: HL7_CLINIC; blank: every clinic)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            clinic = actions.serving_clinic(options["clinic"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        for name in options["files"]:
            try:
                text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8", errors="replace")
            except OSError as error:
                raise CommandError(f"{name}: {error}") from error
            for message in hl7in.split_messages(text):
                receipt = actions.message_receive(text=message, clinic=clinic, via="file")
                self.stdout.write(receipt.ack.replace(hl7in.CR, "\n"))
