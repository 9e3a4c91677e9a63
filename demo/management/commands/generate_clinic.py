"""`python manage.py generate_clinic --patients N`: a synthetic clinic population for benchmarks.

Writes patients with up to five years of history (every row with its history row) in bulk, then
evaluates every new patient's care status. The patients are dealt round the existing clinics in turn
(one clinic on a fresh database; `--clinics N` makes sure there are at least N, "Clinic 2" ...). 100,000 patients take a few minutes on PostgreSQL.
"""

from __future__ import annotations

import datetime
import random
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from accounts import roles
from accounts.models import Clinic
from care.services import care_status_refresh_all
from demo.bulkload import BulkLoader
from demo.synthetic import synthetic_patient
from patients.models import Cause, Injection, LabResult, Medication, Patient, Regimen, SymptomCheck
from protocols.engine import units
from protocols.models import ProtocolProfile
from toolkit.progress import Progress

MODELS = [Patient, Regimen, Cause, Injection, LabResult, SymptomCheck, Medication]
FLUSH_ROWS = 50_000


class Command(BaseCommand):
    help = "Fill the database with N synthetic patients (bulk inserts with history) and their care statuses."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, required=True)
        parser.add_argument("--seed", type=int, default=12)
        parser.add_argument("--today", type=datetime.date.fromisoformat, default=None)
        parser.add_argument("--clinics", type=int, default=1, help="At least this many clinics (default 1).")

    def handle(self, *args: Any, **options: Any) -> None:
        count, today = options["patients"], options["today"] or timezone.localdate()
        rng = random.Random(options["seed"])
        zone = timezone.get_current_timezone()
        now = timezone.now()
        nurse, _ = get_user_model().objects.get_or_create(username="generated-nurse", defaults={"is_active": False})
        nurse.groups.add(Group.objects.get(name=roles.NURSE))
        for n in range(Clinic.objects.count() + 1, options["clinics"] + 1):
            Clinic.objects.get_or_create(slug=f"clinic-{n}", defaults={"name": f"Clinic {n}"})
        clinic_ids = list(Clinic.objects.order_by("pk").values_list("pk", flat=True))
        nurse.clinics.add(*clinic_ids)
        profiles = dict(ProtocolProfile.objects.values_list("slug", "pk"))
        started = time.perf_counter()
        loader = BulkLoader(MODELS, now=now, reason="generate_clinic")
        first_index = loader.next_id[Patient]
        progress = Progress(count, "patients written", self.stderr)
        with transaction.atomic():
            for index in range(first_index, first_index + count):
                _add(
                    loader,
                    synthetic_patient(rng, index, today, zone),
                    profiles=profiles,
                    clinic_id=clinic_ids[index % len(clinic_ids)],
                    nurse_id=nurse.pk,
                    now=now,
                )
                if loader.pending() >= FLUSH_ROWS:
                    loader.flush()
                progress.advance()
            loader.finish()
        progress.done()
        _analyze()  # fresh statistics, as autovacuum would give a production database after a bulk load
        written = time.perf_counter() - started
        rows = sum(loader.written.values())
        self.stdout.write(f"{count} patients, {rows} rows (+{rows} history rows) written in {written:.1f} s")
        started = time.perf_counter()
        progress = Progress(None, "care statuses", self.stderr, unit="patients")
        summary = care_status_refresh_all(
            today=today, patients=Patient.objects.filter(pk__gte=first_index, is_active=True), progress=progress.update
        )
        progress.done()
        self.stdout.write(
            f"care status of {summary.patients} active patients evaluated in {time.perf_counter() - started:.1f} s"
        )
        _analyze()


def _analyze() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _add(
    loader: BulkLoader, p: Any, *, profiles: dict[str, int], clinic_id: int, nurse_id: int, now: datetime.datetime
) -> None:
    pid = loader.add(
        Patient,
        clinic_id=clinic_id,
        mrn=p.mrn,
        given_name=p.given_name,
        family_name=p.family_name,
        birth_date=p.birth_date,
        sex=p.sex,
        email=p.email,
        email_reminders_consent=p.consent,
        neurological_involvement=p.neurological_involvement,
        pregnancy=p.pregnancy,
        dietary_intake_adequate=p.dietary_intake_adequate,
        is_active=p.is_active,
        discharged_at=None if p.is_active else now,
        discharge_reason="" if p.is_active else "moved_away",
    )
    loader.add(Regimen, patient_id=pid, profile_id=profiles[p.profile], oral_since=p.oral_since)
    for cause in p.causes:
        loader.add(
            Cause,
            patient_id=pid,
            length_cm=cause.get("length_cm"),
            procedure=cause.get("procedure", ""),
            start=cause.get("start"),
            stop=cause.get("stop"),
            note=cause.get("note", ""),
            kind=cause["kind"],
        )
    for given_at, drug, site in p.injections:
        loader.add(
            Injection,
            patient_id=pid,
            given_at=given_at,
            drug=drug,
            dose_mcg=1000,
            route="im",
            site=site,
            lot_number=f"LOT{given_at:%y%m}",
            lot_expiry=given_at.date() + datetime.timedelta(days=365),
            given_by_id=nurse_id,
            created_at=given_at,
        )
    for day, analyte, value, unit in p.labs:
        loader.add(
            LabResult,
            patient_id=pid,
            analyte=analyte,
            value_entered=value,
            unit_entered=unit,
            value_canonical=units.to_canonical(analyte, value, unit),
            unit_canonical=units.canonical_unit(analyte),
            collected_on=day,
            entered_by_id=nurse_id,
        )
    for day, neurological, depression in p.symptoms:
        loader.add(
            SymptomCheck,
            patient_id=pid,
            checked_on=day,
            neurological=neurological,
            depression=depression,
            recorded_by_id=nurse_id,
        )
    for name, start, stop in p.medications:
        loader.add(Medication, patient_id=pid, name=name, start=start, stop=stop, recorded_by_id=nurse_id)
