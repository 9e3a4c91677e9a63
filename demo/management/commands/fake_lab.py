"""python manage.py fake_lab : a fake laboratory that sends realistic ORU^R01 results over MLLP to the
listener (hl7_listen), for the demo and by hand. It reads the clinic's patients only to address its
results as a laboratory that received their orders would (record number, name, birth date); each
round also sends one result for a patient the clinic does not know, so the queue has something."""

from __future__ import annotations

import datetime
import random
import time
from typing import Any

import hl7.client
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from labs_in import hl7in
from patients.models import Patient


def _panel(rng: random.Random) -> list[tuple[str, str, str]]:
    """A B12 work-up as laboratories report it: B12 (in pg/mL or pmol/L), folate, a blood count, and
    sometimes ferritin and MMA."""
    b12 = (
        ("2132-9", str(rng.randint(140, 650)), "pg/mL")
        if rng.random() < 0.7
        else ("14685-2", str(rng.randint(105, 480)), "pmol/L")
    )
    rows = [
        b12,
        ("2284-8", f"{rng.uniform(3.5, 18):.1f}", "ng/mL"),
        ("718-7", f"{rng.uniform(11.0, 15.5):.1f}", "g/dL"),
        ("787-2", str(rng.randint(82, 104)), "fL"),
    ]
    if rng.random() < 0.5:
        rows.append(("2276-4", str(rng.randint(15, 250)), "ug/L"))
    if rng.random() < 0.3:
        rows.append(("13964-2", str(rng.randint(150, 600)), "nmol/L"))
    return rows


class Command(BaseCommand):
    help = "Send realistic ORU^R01 lab results over MLLP to the HL7 listener (a fake laboratory)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.HL7_HOST)
        parser.add_argument("--port", type=int, default=settings.HL7_PORT)
        parser.add_argument("--count", type=int, default=3, help="Patients' results a round (default 3).")
        parser.add_argument("--every", type=float, default=0, help="Send a round every N seconds; 0: one round.")
        parser.add_argument("--wait", type=float, default=60, help="Seconds to wait for the listener to start.")
        parser.add_argument("--seed", type=int, default=None)

    def _connect(self, host: str, port: int, wait: float) -> hl7.client.MLLPClient:
        deadline = time.monotonic() + wait
        while True:
            try:
                client = hl7.client.MLLPClient(host, port)
            except OSError as error:
                if time.monotonic() >= deadline:
                    raise CommandError(f"No HL7 listener on {host}:{port}: {error}") from error
                time.sleep(1)
            else:
                client.socket.settimeout(30)
                return client

    def _round(self, rng: random.Random, count: int) -> list[str]:
        today = timezone.localdate()
        drawn = (datetime.datetime.combine(today, datetime.time(8, rng.randint(0, 59)))).strftime("%Y%m%d%H%M%S")
        stamp = timezone.now().strftime("%Y%m%d%H%M%S")
        patients = [p for p in Patient.objects.order_by("?")[: count * 3] if p.is_active][:count]
        messages = []
        for number, patient in enumerate(patients, start=1):
            messages.append(
                hl7in.compose_oru(
                    control_id=f"FL{stamp}{number:03d}",
                    mrn=patient.mrn,
                    birth_date=patient.birth_date.strftime("%Y%m%d"),
                    family_name=patient.family_name.upper(),
                    given_name=patient.given_name.upper(),
                    sex={"female": "F", "male": "M"}.get(patient.sex, "U"),
                    observed_at=drawn,
                    observations=_panel(rng),
                )
            )
        messages.append(
            hl7in.compose_oru(
                control_id=f"FL{stamp}999",
                mrn=f"EXT-{rng.randint(10000, 99999)}",
                birth_date=f"19{rng.randint(40, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}",
                family_name=rng.choice(["NOWAK", "OKAFOR", "LINDQVIST", "MARTIN"]),
                given_name=rng.choice(["EVA", "JOHN", "AMARA", "PIETER"]),
                observed_at=drawn,
                observations=[("2132-9", str(rng.randint(120, 300)), "pg/mL")],
            )
        )
        return messages

    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random(options["seed"])
        while True:
            client = self._connect(options["host"], options["port"], options["wait"])
            try:
                for message in self._round(rng, options["count"]):
                    try:
                        ack = hl7in.normalise(client.send_message(message).decode("utf-8", errors="replace"))
                    except (TimeoutError, OSError) as error:
                        raise CommandError(f"The listener did not answer: {error}") from error
                    control_id = message.split("|", 10)[9]
                    self.stdout.write(f"{control_id}: {hl7in.ack_code(ack) or 'no ACK'}")
            finally:
                client.close()
            if not options["every"]:
                return
            time.sleep(options["every"])
