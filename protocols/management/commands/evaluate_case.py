"""`python manage.py evaluate_case FILE|-`: the protocol engine from the command line (CONTRACT.md).

One case object (or a list) in, one evaluation (or a list in the same order) out. On invalid input
nothing goes to stdout, stderr names the offending field, and the exit status is 2.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from protocols.engine.cases import CaseError, evaluate_cases
from protocols.selectors import engine_profiles


class Command(BaseCommand):
    help = "Evaluate one protocol case (or a list of cases) from a JSON file, or - for standard input."
    # A pure computation: it must answer on a bare checkout (no SECRET_KEY, no migrated database).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path to a JSON case file, or - to read standard input")

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["file"]
        try:
            text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()
        except OSError as error:
            raise CommandError(f"{source}: cannot read: {error.strerror}", returncode=2) from None
        try:
            # Decimal keeps a value typed at a threshold exactly at it (e.g. 132.804 pmol/L = 180 pg/mL).
            raw = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as error:
            raise CommandError(f"{source}: not valid JSON: {error}", returncode=2) from None
        try:
            result = evaluate_cases(raw, engine_profiles())
        except CaseError as error:
            raise CommandError(str(error), returncode=2) from None
        self.stdout.write(json.dumps(result, indent=2))
