"""Build patients in given clinical states through the real services, relative to the real today
(the views read `timezone.localdate()`), quickly enough for 200 patients."""

from __future__ import annotations

import datetime
import itertools
import zoneinfo
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts import models as accounts_models
from care.services import care_status_refresh_all, care_status_refresh_deferred
from clinic import actions
from clinic import actions as decisions
from patients.models import Injection, Patient, Regimen
from patients.plausibility import CODES
from patients.querysets import bulk_create_with_history
from protocols.engine.dates import add_months
from protocols.models import ProtocolProfile

_mrns = itertools.count(1)


def today() -> datetime.date:
    return timezone.localdate()


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    zone = zoneinfo.ZoneInfo(timezone.get_current_timezone_name())
    moment = datetime.datetime.combine(day, datetime.time(hour, 0), tzinfo=zone)
    return min(moment, timezone.now() - datetime.timedelta(minutes=1))


def days_ago(n: int) -> datetime.date:
    return today() - datetime.timedelta(days=n)


class Clinic:
    def __init__(self, *, nurse: User, physician: User, home: accounts_models.Clinic | None = None) -> None:
        self.nurse = nurse
        self.physician = physician
        # The clinic (site) its patients belong to: the nurse's only one unless given.
        self.home = home or nurse.clinics.get()

    def patient(self, *, family_name: str = "Example", given_name: str = "Alice", **extra: Any) -> Patient:
        values: dict[str, Any] = {
            "mrn": f"UI-{next(_mrns):05d}",
            "given_name": given_name,
            "family_name": family_name,
            "birth_date": datetime.date(1970, 5, 10),
            "sex": "female",
            "clinic": self.home,
            "by": self.nurse,
        }
        values.update(extra)
        return actions.patient_create(**values)

    def inject(self, patient: Patient, day: datetime.date, *, by: User | None = None, **extra: Any) -> None:
        values: dict[str, Any] = {
            "patient": patient,
            "given_at": at(day),
            "drug": "cyanocobalamin",
            "dose_mcg": 1000,
            "route": "im",
            "site": "left_deltoid",
            "lot_number": "LOT-1",
            "lot_expiry": today() + datetime.timedelta(days=365),
            "given_by": by or self.nurse,
            "now": at(day),  # logged when given, not back-dated
            "confirmed": CODES,  # the states are built on purpose (e.g. an early dose): no questions
        }
        values.update(extra)
        actions.injection_record(**values)

    def lab(self, patient: Patient, day: datetime.date, analyte: str, value: str, unit: str) -> None:
        actions.lab_result_record(
            patient=patient,
            analyte=analyte,
            value=value,
            unit=unit,
            collected_on=day,
            entered_by=self.nurse,
            confirmed=CODES,  # built on purpose: no questions
        )

    def loading(self, patient: Patient, first: datetime.date) -> None:
        """The four loading doses, 7 days apart from `first`."""
        for week in range(4):
            self.inject(patient, first + datetime.timedelta(days=7 * week))

    # States ----------------------------------------------------------------------------------------

    def overdue(self, days: int, **names: Any) -> Patient:
        """In loading, with the next dose `days` overdue (loading: due 7 days after the last dose)."""
        patient = self.patient(**names)
        self.inject(patient, days_ago(days + 7))
        return patient

    def due_today(self, **names: Any) -> Patient:
        return self.overdue(0, **names)

    def on_time(self, **names: Any) -> Patient:
        """In maintenance, the next injection weeks away; no recheck soon."""
        patient = self.patient(**names)
        self.loading(patient, days_ago(40))
        self.inject(patient, days_ago(2))
        return patient

    def recheck_due(self, **names: Any) -> Patient:
        """Maintenance started ~3 months ago (first-year check at M + 3 months is about due)."""
        patient = self.patient(**names)
        start = add_months(today(), -3) + datetime.timedelta(days=3)  # M + 3 months = in 3 days
        first = start - datetime.timedelta(days=28)
        self.loading(patient, first)
        day = start
        while day <= today() - datetime.timedelta(days=1):
            self.inject(patient, day)
            day = day + datetime.timedelta(days=28)
        return patient

    def with_low_b12(self, **names: Any) -> Patient:
        """Maintenance with a low B12 since: ALERT-B12-LOW (high)."""
        patient = self.on_time(**names)
        self.lab(patient, days_ago(1), "b12", "120", "pg/mL")
        return patient

    def candidate(self, **names: Any) -> Patient:
        """Diet the only cause, loading done, B12 and MMA normal, intake adequate, no neuro symptoms."""
        patient = self.patient(dietary_intake_adequate="yes", **names)
        actions.cause_add(patient=patient, kind="dietary", by=self.physician)
        self.loading(patient, days_ago(60))
        self.inject(patient, days_ago(3))
        self.lab(patient, days_ago(2), "b12", "520", "pg/mL")
        self.lab(patient, days_ago(2), "mma", "150", "nmol/L")
        actions.symptom_check_record(
            patient=patient, checked_on=days_ago(2), neurological=False, depression=False, recorded_by=self.nurse
        )
        return patient

    def lifelong(self, **names: Any) -> Patient:
        patient = self.patient(**names)
        actions.cause_add(patient=patient, kind="pernicious_anemia", by=self.physician)
        self.loading(patient, days_ago(40))
        return patient

    def bulk(self, count: int) -> list[Patient]:
        """`count` patients with one injection each (overdue, lost, due today or not due), written in
        bulk with their history rows and evaluated in one refresh: for the query-count tests."""
        profile = ProtocolProfile.objects.get(slug="monthly-cyanocobalamin")
        start = next(_mrns)
        patients = bulk_create_with_history(
            [
                Patient(
                    clinic=self.home,
                    mrn=f"UB-{start:05d}-{i:04d}",
                    given_name="Bulk",
                    family_name=f"Patient{i:04d}",
                    birth_date=datetime.date(1960 + i % 30, 1 + i % 12, 1 + i % 28),
                    sex="female" if i % 2 else "male",
                )
                for i in range(count)
            ],
            Patient,
        )
        patients = list(Patient.objects.filter(mrn__startswith=f"UB-{start:05d}-").order_by("mrn"))
        bulk_create_with_history([Regimen(patient=p, profile=profile) for p in patients], Regimen)
        offsets = (12, 77, 7, 1)  # loading: the next dose is due 7 days after the last
        bulk_create_with_history(
            [
                Injection(
                    patient=p,
                    given_at=at(days_ago(offsets[i % len(offsets)])),
                    drug="cyanocobalamin",
                    dose_mcg=1000,
                    route="im",
                    site="left_deltoid",
                    lot_number="LOT-B",
                    lot_expiry=today() + datetime.timedelta(days=365),
                    given_by=self.nurse,
                )
                for i, p in enumerate(patients)
            ],
            Injection,
        )
        care_status_refresh_all(patients=Patient.objects.filter(pk__in=[p.pk for p in patients]))
        return patients

    def panel(self, count: int) -> list[Patient]:
        """`count` patients: one of each state (with decisions) built through the services, the rest
        in bulk."""
        patients = self.mix()
        return patients + self.bulk(max(0, count - len(patients)))

    def mix(self) -> list[Patient]:
        """One patient in each state, with decisions, built in one transaction with one care-status
        refresh at the end."""
        count = 8
        kinds = [
            lambda i: self.overdue(3 + i % 20, family_name=f"Over{i}"),
            lambda i: self.overdue(70 + i % 5, family_name=f"Lost{i}"),
            lambda i: self.due_today(family_name=f"Today{i}"),
            lambda i: self.on_time(family_name=f"Fine{i}"),
            lambda i: self.with_low_b12(family_name=f"Low{i}"),
            lambda i: self.candidate(family_name=f"Cand{i}"),
            lambda i: self.recheck_due(family_name=f"Recheck{i}"),
            lambda i: self.lifelong(family_name=f"Life{i}"),
        ]
        with transaction.atomic(), care_status_refresh_deferred():
            patients = [kinds[i % len(kinds)](i) for i in range(count)]
        for patient in patients[::3]:
            alert = patient.care_alerts.first()
            if alert is not None:
                decisions.decision_acknowledge_alert(
                    patient=patient, alert_rule=alert.rule, reason="Seen", by=self.physician
                )
            decisions.decision_set_interval(patient=patient, months=2, reason="Travel", by=self.physician)
        return patients
