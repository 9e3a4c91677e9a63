"""Build a believable demo programme of two clinics (North and South): one user per role and 48
patients across every cause, phase and alert of GUIDANCE.md, a third of them in the South clinic.
Everything goes through patients.services with dates relative to `--today`.

Idempotent: patients are keyed by MRN, users by username and clinics by slug; whatever exists is left
alone (a database that had only the default clinic sees it renamed "North clinic").
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.clinics import default_clinic_slug, only_clinic
from accounts.models import Clinic
from care.models import CareStatus
from care.services import care_status_refresh_deferred
from clinic import actions
from outreach.models import AppointmentKind
from outreach.selectors import booking_suggestion
from patients import services as record
from patients.models import Injection, Patient
from protocols.engine.dates import add_months
from protocols.engine.profiles import BUILTIN_PROFILES, DEFAULT_PROFILE_SLUG
from protocols.models import ProtocolProfile

MONTHLY = "monthly-cyanocobalamin"
HYDROXO = "hydroxocobalamin-3-monthly"

# A day in a demo schedule: an int is that many days before today; "m+N" / "m-N" is N days after /
# before the patient's maintenance start M (the first injection due after the loading doses), so
# monitoring results land where the protocol expects them.
When = int | str
Lab = tuple[When, str, str, str]  # (when, analyte, value, unit)
Check = tuple[When, bool, bool]  # (when, neurological, depression)


@dataclass
class Demo:
    mrn: str
    given: str
    family: str
    age: int
    sex: str
    causes: list[dict[str, Any]] = field(default_factory=list)
    profile: str = MONTHLY
    neuro: bool = False
    pregnancy: str = "none"
    diet: str = "unknown"
    started: int | None = None  # days ago of the first loading dose; None: not started
    last_injection: int = 0  # no injection in the last N days (overdue patients)
    labs: list[Lab] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    folic: tuple[When, When | None] | None = None  # (start, stop) of folic acid
    override: tuple[int, str] | None = None
    oral: int | None = None  # days ago of the switch to oral therapy
    discharged: bool = False


def _c(kind: str, **details: Any) -> dict[str, Any]:
    return {"kind": kind, **details}


PA = _c("pernicious_anemia")
DIET = _c("dietary")


def _baseline(b12: str = "128", unit: str = "pg/mL", hb: str = "11.2") -> list[Lab]:
    """Labs at diagnosis, ten days before the first dose."""
    return [
        ("m-65", "b12", b12, unit),
        ("m-65", "hemoglobin", hb, "g/dL"),
        ("m-65", "mcv", "104", "fL"),
    ]


def _stable(*days: When) -> list[Lab]:
    return [(d, "b12", v, "pg/mL") for d, v in zip(days, ("512", "604", "587", "655", "570"), strict=False)]


# One line per patient reads as a table; the formatter would spread it over 500 lines.
# fmt: off
DEMOS: list[Demo] = [
    # Pernicious anemia ----------------------------------------------------------------------------------
    Demo("B12-0001", "Margaret", "Hughes", 68, "female", [PA], started=600, labs=_baseline() + _stable("m+95", "m+185", "m+370")),
    Demo("B12-0002", "David", "Okafor", 59, "male", [PA], started=200, labs=_baseline("92", "pmol/L")),
    Demo("B12-0003", "Aisha", "Rahman", 44, "female", [PA], started=9, labs=[(15, "b12", "101", "pg/mL"), (15, "hemoglobin", "98", "g/L")]),
    Demo("B12-0004", "Thomas", "Brennan", 71, "male", [PA], labs=[(4, "b12", "118", "pg/mL"), (4, "mcv", "108", "fL")]),
    Demo("B12-0005", "Sarah", "Whitfield", 63, "female", [PA], started=330, labs=_baseline() + [("m+92", "b12", "152", "pg/mL")]),
    Demo("B12-0006", "Kevin", "Doyle", 57, "male", [PA], started=420, last_injection=100, labs=_baseline() + _stable("m+92")),
    Demo("B12-0007", "Eleanor", "Price", 66, "female", [PA], profile=HYDROXO, neuro=True, started=300,
         labs=_baseline("84") + [("m+90", "b12", "460", "pg/mL")], checks=[(250, True, False), (20, True, False)]),
    Demo("B12-0008", "Joseph", "Adeyemi", 55, "male", [PA], profile=HYDROXO, started=160,
         labs=_baseline("120") + [("m+30", "b12", "453", "pmol/L")], checks=[(170, False, True), (12, False, True)]),
    Demo("B12-0009", "Dorothy", "Fletcher", 81, "female", [PA], started=700,
         labs=_baseline() + _stable("m+90", "m+182", "m+366") + [(30, "ferritin", "18", "ng/mL")]),
    Demo("B12-0010", "Rajesh", "Patel", 62, "male", [PA], started=260,
         labs=_baseline() + _stable("m+92", "m+182") + [(40, "transferrin_saturation", "14", "%")]),
    Demo("B12-0011", "Fiona", "MacLeod", 48, "female", [PA], started=16, labs=[(22, "b12", "131", "pg/mL")], folic=(12, None)),
    Demo("B12-0012", "George", "Whitaker", 73, "male", [PA], started=900,
         labs=_baseline() + _stable("m+92", "m+183", "m+367", "m+730"),
         override=(2, "Stable for two years; travels for work and prefers injections every 2 months.")),
    Demo("B12-0013", "Helen", "Marsh", 60, "female", [PA], started=380, labs=_baseline() + _stable("m+91"),
         checks=[(200, True, False), (110, False, False), (8, True, False)]),
    Demo("B12-0014", "Patrick", "Nolan", 52, "male", [PA], started=240, last_injection=50, labs=_baseline() + _stable("m+92")),
    # Ileal resection ------------------------------------------------------------------------------------
    Demo("B12-0015", "Lucy", "Chambers", 39, "female", [_c("ileal_resection", length_cm=25)], profile=HYDROXO, started=500,
         labs=_baseline("140") + _stable("m+92", "m+184")),
    Demo("B12-0016", "Mark", "Ellison", 47, "male", [_c("ileal_resection", length_cm=20)], started=210,
         labs=_baseline("150") + [("m+91", "b12", "240", "pg/mL")]),
    Demo("B12-0017", "Grace", "Kowalski", 35, "female", [_c("ileal_resection", length_cm=60)], started=15,
         labs=[(20, "b12", "88", "pmol/L")]),
    Demo("B12-0018", "Samuel", "Reid", 58, "male", [_c("ileal_resection", length_cm=35)], started=280,
         labs=_baseline() + _stable("m+92") + [("m+182", "b12", "410", "pg/mL"), ("m+182", "mma", "0.41", "umol/L")]),
    # Bariatric surgery ----------------------------------------------------------------------------------
    Demo("B12-0019", "Chloe", "Bennett", 31, "female", [_c("bariatric_surgery", procedure="gastric_bypass", start=1500)],
         pregnancy="pregnant", started=250, labs=_baseline() + _stable("m+90", "m+180") + [("m+180", "vitamin_d", "82", "nmol/L")]),
    Demo("B12-0020", "Natalie", "Foster", 42, "female", [_c("bariatric_surgery", procedure="sleeve")], started=230,
         labs=_baseline() + _stable("m+90") + [("m+90", "vitamin_d", "18", "ng/mL")]),
    Demo("B12-0021", "Gareth", "Lloyd", 50, "male", [_c("bariatric_surgery", procedure="biliopancreatic_diversion")], started=320,
         labs=_baseline() + _stable("m+91") + [("m+91", "vitamin_d", "52", "nmol/L"), ("m+91", "ferritin", "12", "ug/L")]),
    Demo("B12-0022", "Emma", "Sinclair", 33, "female", [_c("bariatric_surgery", procedure="other")], pregnancy="planning",
         started=330, labs=_baseline() + _stable("m+92", "m+180") + [("m+180", "vitamin_d", "88", "nmol/L")]),
    Demo("B12-0023", "Paul", "Garner", 45, "male", [_c("bariatric_surgery", procedure="gastric_bypass")], started=330,
         labs=_baseline() + _stable("m+30")),
    Demo("B12-0024", "Megan", "Lewis", 38, "female", [_c("bariatric_surgery", procedure="sleeve")], labs=[(3, "b12", "165", "pg/mL")]),
    # Crohn's disease ------------------------------------------------------------------------------------
    Demo("B12-0025", "Oliver", "Hart", 29, "male", [_c("crohns_ileal", length_cm=40)], started=450,
         labs=_baseline() + _stable("m+92", "m+183", "m+366")),
    Demo("B12-0026", "Zara", "Hussain", 26, "female", [_c("crohns_ileal", length_cm=15)], started=3, labs=[(8, "b12", "172", "pg/mL")]),
    Demo("B12-0027", "Daniel", "Murphy", 41, "male", [_c("crohns_ileal", length_cm=45)], started=300,
         labs=_baseline() + _stable("m+92") + [("m+182", "b12", "388", "pg/mL"), ("m+182", "homocysteine", "14.2", "umol/L")]),
    # Dietary --------------------------------------------------------------------------------------------
    Demo("B12-0028", "Isla", "Morgan", 34, "female", [DIET], diet="yes", started=220,
         labs=_baseline("160") + [("m+90", "b12", "520", "pg/mL"), ("m+90", "mma", "180", "nmol/L")], checks=[("m+90", False, False)]),
    Demo("B12-0029", "Ben", "Carter", 30, "male", [DIET], diet="yes", started=400, oral=180,
         labs=_baseline("170") + [("m+92", "b12", "560", "pg/mL"), ("m+92", "mma", "150", "nmol/L")]),
    Demo("B12-0030", "Priya", "Sharma", 36, "female", [DIET], diet="yes", started=700, oral=430,
         labs=_baseline("150") + [("m+90", "b12", "610", "pg/mL"), ("m+90", "homocysteine", "7.5", "umol/L")]),
    Demo("B12-0031", "Leo", "Fischer", 27, "male", [DIET], diet="yes", started=230, labs=_baseline("175") + [("m+90", "b12", "540", "pg/mL")]),
    Demo("B12-0032", "Amelia", "Turner", 24, "female", [DIET], started=10, labs=[(14, "b12", "142", "pg/mL")], folic=(12, None)),
    Demo("B12-0033", "Jack", "Robinson", 32, "male", [DIET], started=200, labs=_baseline("165") + _stable("m+91"), folic=("m+10", None)),
    Demo("B12-0034", "Sofia", "Rossi", 29, "female", [DIET], diet="no", labs=[(2, "b12", "190", "pg/mL"), (2, "folate", "6.1", "ng/mL")]),
    # Proton pump inhibitor ------------------------------------------------------------------------------
    Demo("B12-0035", "Brian", "Walsh", 67, "male", [_c("ppi", start=900)], started=260, labs=_baseline() + _stable("m+92", "m+182")),
    Demo("B12-0036", "Ruth", "Abbott", 58, "female", [_c("ppi", start=60), DIET], started=12, labs=[(20, "b12", "150", "pg/mL")]),
    Demo("B12-0037", "Colin", "Harper", 64, "male", [_c("ppi", start=800, stop=90)], started=300,
         labs=_baseline() + [("m+95", "b12", "300", "pg/mL")]),
    # Metformin ------------------------------------------------------------------------------------------
    Demo("B12-0038", "Irene", "Walker", 70, "female", [_c("metformin", start=1800)], started=330, labs=_baseline() + _stable("m+92", "m+182"),
         checks=[(250, False, True), (150, False, False), (15, False, True)]),
    Demo("B12-0039", "Harold", "Dixon", 66, "male", [_c("metformin", start=2200)], profile=HYDROXO, neuro=True, started=420,
         labs=_baseline() + _stable("m+92", "m+183", "m+366"), override=(1, "Painful neuropathy returns before each dose; monthly for now.")),
    Demo("B12-0040", "Maureen", "Gallagher", 74, "female", [_c("metformin", start=1500)], started=400, last_injection=100,
         labs=_baseline() + _stable("m+91")),
    # Other and unknown causes ---------------------------------------------------------------------------
    Demo("B12-0041", "Ryan", "Cooper", 23, "male", [_c("other", note="Recreational nitrous oxide use")], started=5,
         labs=[(7, "b12", "210", "pg/mL"), (7, "homocysteine", "38", "umol/L")], checks=[(7, True, False)]),
    Demo("B12-0042", "Angela", "Moore", 61, "female", [_c("other", note="Atrophic gastritis, intrinsic factor antibodies negative")],
         started=380, labs=_baseline("95", "pmol/L") + [("m+92", "b12", "390", "pmol/L"), ("m+182", "b12", "420", "pmol/L")]),
    Demo("B12-0043", "Nigel", "Baxter", 55, "male", [], profile=HYDROXO, started=40,
         labs=[(44, "b12", "120", "pg/mL"), (2, "b12", "453", "pmol/L")], checks=[(44, False, True), (2, False, False)]),
    Demo("B12-0044", "Janet", "Stone", 49, "female", [], labs=[(1, "b12", "205", "ng/L")]),
    Demo("B12-0045", "Frank", "Osborne", 77, "male", [PA], started=800, labs=_baseline() + _stable("m+90", "m+181"), discharged=True),
    Demo("B12-0046", "Lily", "Chapman", 37, "female", [DIET, _c("ppi", start=700, stop=400)], diet="yes", started=600, oral=60,
         labs=_baseline("168") + [("m+92", "b12", "530", "pg/mL"), ("m+92", "mma", "210", "nmol/L"), ("m+180", "b12", "590", "pg/mL")]),
    Demo("B12-0047", "Victoria", "Hale", 53, "female", [PA], started=45,
         labs=[(50, "b12", "110", "pg/mL"), (50, "folate", "4.3", "nmol/L")], folic=(30, None)),
    Demo("B12-0048", "Arthur", "Pemberton", 79, "male", [_c("metformin", start=2500)], started=365,
         labs=_baseline() + _stable("m+92", "m+182") + [("m+182", "mma", "0.22", "umol/L")]),
]
# fmt: on

SITES = [choice for choice, _ in Injection.Site.choices]


def demo_clinics() -> tuple[Clinic, Clinic]:
    """North (the default clinic of a fresh database, renamed) and South."""
    north = Clinic.objects.filter(slug="north").first()
    if north is None:
        default = only_clinic()
        if default is not None and default.slug == default_clinic_slug():
            default.name, default.slug = "North clinic", "north"
            default.save(update_fields=["name", "slug"])
            north = default
        else:
            north = Clinic.objects.create(name="North clinic", slug="north")
    south, _ = Clinic.objects.get_or_create(slug="south", defaults={"name": "South clinic"})
    return north, south


def in_south(demo: Demo) -> bool:
    """Every third demo patient is the South clinic's."""
    return int(demo.mrn[-2:]) % 3 == 0


class Seeder:
    def __init__(self, *, today: datetime.date, password: str) -> None:
        self.today = today
        self.now = timezone.now()
        self.password = password
        self.profiles = {p.slug: p for p in ProtocolProfile.objects.filter(slug__in=list(BUILTIN_PROFILES))}

    def day(self, days_ago: int) -> datetime.date:
        return self.today - datetime.timedelta(days=days_ago)

    def at(self, day: datetime.date, hour: int = 10) -> datetime.datetime:
        moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))
        return min(moment, self.now - datetime.timedelta(minutes=5))

    def user(
        self,
        username: str,
        role: str | None,
        *,
        first: str,
        last: str,
        clinics: tuple[Clinic, ...] = (),
        admin: bool = False,
    ) -> AbstractUser:
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "is_staff": admin,
                "is_superuser": admin,
            },
        )
        if created:
            user.set_password(self.password)
            user.save(update_fields=["password"])
        if role:
            user.groups.add(Group.objects.get(name=role))
        user.clinics.add(*clinics)
        return user

    def interval(self, demo: Demo) -> int:
        """The interval the demo schedule follows (the precedence of GUIDANCE.md, simplified)."""
        if demo.override:
            return demo.override[0]
        if any(c["kind"] == "ileal_resection" and c.get("length_cm", 0) > 20 for c in demo.causes):
            return 1
        profile = BUILTIN_PROFILES[demo.profile]
        if demo.neuro and profile.neuro_interval_months:
            return profile.neuro_interval_months
        return profile.maintenance_interval_months

    def injection_days(self, demo: Demo) -> tuple[list[datetime.date], datetime.date | None]:
        """The injection dates and the maintenance start M (None when not started)."""
        if demo.started is None:
            return [], None
        profile = BUILTIN_PROFILES[demo.profile]
        interval = self.interval(demo)
        first = self.day(demo.started)
        loading = [
            first + datetime.timedelta(days=profile.loading_interval_days * i) for i in range(profile.loading_doses)
        ]
        maintenance_start = add_months(loading[-1], interval)
        last_allowed = self.day(max(demo.last_injection, demo.oral or 0))
        # A course started less than three weeks ago is still loading.
        days = [d for d in loading if d <= last_allowed]
        if len(days) == len(loading):
            step = 1
            while (due := add_months(loading[-1], interval * step)) <= last_allowed:
                days.append(due)
                step += 1
        return days, maintenance_start

    def resolve(self, when: When, maintenance_start: datetime.date | None) -> datetime.date:
        if isinstance(when, int):
            return self.day(when)
        if maintenance_start is None:
            raise ValueError(f"{when!r} needs a started course")
        return maintenance_start + datetime.timedelta(days=int(when[1:]))

    def patient(self, demo: Demo, *, clinic: Clinic, nurse: AbstractUser, physician: AbstractUser) -> bool:
        if Patient.objects.filter(mrn=demo.mrn).exists():
            return False
        injection_days, start = self.injection_days(demo)
        birth = add_months(self.today, -12 * demo.age - 5 - int(demo.mrn[-2:]) % 7)
        patient = actions.patient_create(
            mrn=demo.mrn,
            given_name=demo.given,
            family_name=demo.family,
            birth_date=birth,
            sex=demo.sex,
            email=f"{demo.given}.{demo.family}@example.org".lower(),
            phone=f"07700 900{demo.mrn[-3:]}",
            email_reminders_consent=int(demo.mrn[-2:]) % 3 != 0,
            neurological_involvement=demo.neuro,
            pregnancy=demo.pregnancy,
            dietary_intake_adequate=demo.diet,
            profile=self.profiles[demo.profile],
            clinic=clinic,
            by=nurse,
            today=self.today,
        )
        for cause in demo.causes:
            dates = {k: self.day(cause[k]) for k in ("start", "stop") if k in cause and cause[k] is not None}
            actions.cause_add(patient=patient, by=physician, today=self.today, **{**cause, **dates})
        regimen = patient.regimen
        if demo.override:
            months, reason = demo.override
            record.regimen_set_interval_override(
                regimen=regimen,
                months=months,
                reason=reason,
                by=physician,
                now=self.now,
            )
        profile = BUILTIN_PROFILES[demo.profile]
        for n, day in enumerate(injection_days):
            actions.injection_record(
                patient=patient,
                given_at=self.at(day),
                drug=profile.drug,
                dose_mcg=profile.dose_mcg,
                route=Injection.Route.IM,
                site=SITES[n % len(SITES)],
                lot_number=f"{'CY' if profile.drug == 'cyanocobalamin' else 'HY'}{day:%y%m}-{n % 3 + 1:02d}",
                lot_expiry=day + datetime.timedelta(days=400),
                given_by=nurse,
                now=self.at(day),  # logged when given, as at the clinic (not back-dated)
            )
        for when, analyte, value, unit in demo.labs:
            collected = self.resolve(when, start)
            if collected <= self.today:  # a schedule point not reached yet is simply not drawn
                actions.lab_result_record(
                    patient=patient,
                    analyte=analyte,
                    value=value,
                    unit=unit,
                    collected_on=collected,
                    entered_by=nurse,
                    today=self.today,
                )
        for when, neurological, depression in demo.checks:
            actions.symptom_check_record(
                patient=patient,
                checked_on=self.resolve(when, start),
                neurological=neurological,
                depression=depression,
                recorded_by=nurse,
                today=self.today,
            )
        if demo.folic:
            begin, end = demo.folic
            medication = actions.medication_start(
                patient=patient,
                name="folic_acid",
                detail="5 mg daily",
                start=self.resolve(begin, start),
                recorded_by=nurse,
                today=self.today,
            )
            if end is not None:
                actions.medication_stop(medication=medication, stop=self.resolve(end, start), by=nurse)
        if demo.oral is not None:
            record.regimen_switch_to_oral(
                regimen=regimen,
                since=self.day(demo.oral),
                by=physician,
                today=self.today,
            )
        if demo.override or demo.oral is not None:
            # The demo's history sets the regimen directly, without a decision of the day on record.
            actions.record_changed(patient)
        if demo.discharged:
            actions.patient_discharge(patient=patient, by=physician, now=self.now)
        return True


class Command(BaseCommand):
    help = "Create demo users (one per role) and a demo clinic of patients. Safe to run twice."

    def appointments(self, seeder: Seeder, nurse: AbstractUser, *, most: int = 4) -> int:
        """Book the next injection of a few patients due within ten days, at the suggested day and
        time, as a nurse would from the outreach list: the day view and the letters have something."""
        due = CareStatus.objects.filter(
            patient__is_active=True,
            next_injection_due__gte=seeder.today,
            next_injection_due__lte=seeder.today + datetime.timedelta(days=10),
        ).select_related("patient__clinic")
        booked = 0
        for status in due.order_by("next_injection_due", "patient__mrn")[:most]:
            patient = status.patient
            suggestion = booking_suggestion(patient=patient, kind=AppointmentKind.INJECTION, today=seeder.today)
            if suggestion.day is None:
                continue
            starts_at = datetime.datetime.combine(suggestion.day, suggestion.time, tzinfo=patient.clinic.zone)
            if starts_at <= seeder.now:
                continue
            actions.appointment_book(
                patient=patient, kind=AppointmentKind.INJECTION, starts_at=starts_at, by=nurse, now=seeder.now
            )
            booked += 1
        return booked

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--even-without-debug",
            action="store_true",
            help="Seed although DEBUG is off (a demo server). Never on a clinic's real database.",
        )
        parser.add_argument(
            "--today",
            type=datetime.date.fromisoformat,
            help="Build the demo as of this date (YYYY-MM-DD).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["even_without_debug"]:
            raise CommandError(
                "seed_demo creates demo users with a known password: it runs only with DEBUG on, or with "
                "--even-without-debug on a server that is a demo and nothing else."
            )
        today = options["today"] or timezone.localdate()
        password = os.environ.get("DEMO_PASSWORD") or "b12-demo-pass"
        seeder = Seeder(today=today, password=password)
        if DEFAULT_PROFILE_SLUG not in seeder.profiles:
            raise SystemExit("The built-in protocol profiles are missing; run `python manage.py migrate` first.")
        with transaction.atomic():
            north, south = demo_clinics()
            both = (north, south)
            nurse = seeder.user("nurse", roles.NURSE, first="Nina", last="Nurse", clinics=both)
            physician = seeder.user("physician", roles.PHYSICIAN, first="Philip", last="Physician", clinics=both)
            seeder.user("south-nurse", roles.NURSE, first="Sunita", last="South", clinics=(south,))
            seeder.user("programme", roles.PROGRAMME, first="Pat", last="Programme", clinics=both)
            seeder.user("callcentre", roles.CALL_CENTRE, first="Cora", last="Caller", clinics=both)
            seeder.user("admin", roles.CLINIC_ADMIN, first="Ada", last="Admin", clinics=both, admin=True)
        created = 0
        for demo in DEMOS:
            with transaction.atomic(), care_status_refresh_deferred():
                clinic = south if in_south(demo) else north
                created += seeder.patient(demo, clinic=clinic, nurse=nurse, physician=physician)
        if created:
            booked = self.appointments(seeder, nurse)
            self.stdout.write(
                f"Demo appointments: {booked} booked (see Appointments, and the letters under Reminders)."
            )
        self.stdout.write(f"Demo clinics: {created} patients created, {len(DEMOS) - created} already there.")
        for clinic in both:
            self.stdout.write(f"  {clinic.name}: {clinic.patients.count()} patients")
        self.stdout.write("Log in at /accounts/login/ as (users created earlier keep their password):")
        for username, role in (
            ("nurse", "nurse, both clinics"),
            ("physician", "physician, both clinics"),
            ("south-nurse", "nurse, South clinic only"),
            ("programme", "programme: each clinic's numbers, no patient records"),
            ("callcentre", "call centre: the outreach list and appointments, no clinical record"),
            ("admin", "clinic admin, superuser: every clinic"),
        ):
            self.stdout.write(f"  {username:<11} / {password}   ({role})")
