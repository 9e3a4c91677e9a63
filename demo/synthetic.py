"""A synthetic clinic population for benchmarks: every cause and phase, up to five years of history.

Pure data, seeded: `synthetic_patient(rng, index, today)` returns plain values that
`generate_clinic` writes in bulk. Injections follow each profile's schedule with realistic jitter
(some patients late, some lost to follow-up); labs are drawn at the rechecks; symptom checks go with
them. Nothing here reads the database.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from decimal import Decimal

from protocols.engine.dates import add_months

GIVEN = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Esme",
    "Farid",
    "Grace",
    "Hugo",
    "Iris",
    "Jonah",
    "Kemi",
    "Liam",
    "Maya",
    "Noor",
    "Owen",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tess",
    "Uma",
    "Victor",
    "Wren",
    "Yusuf",
    "Zara",
]
FAMILY = [
    "Adams",
    "Begum",
    "Clarke",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ibrahim",
    "Jones",
    "Khan",
    "Lewis",
    "Morgan",
    "Novak",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Singh",
    "Taylor",
    "Usman",
    "Virtanen",
    "Walsh",
    "Xu",
    "Young",
    "Zielinski",
]
SITES = ["left_deltoid", "right_deltoid", "left_thigh", "right_thigh", "left_gluteal", "right_gluteal"]
# (story, weight): where the patient is today.
STORIES = [
    ("maintenance", 80),
    ("late", 6),
    ("lost", 4),
    ("loading", 3),
    ("not_started", 2),
    ("oral", 3),
    ("discharged", 2),
]
CAUSES = [
    ("pernicious_anemia", 34),
    ("dietary", 16),
    ("bariatric_surgery", 12),
    ("ileal_resection", 7),
    ("crohns_ileal", 5),
    ("ppi", 9),
    ("metformin", 8),
    ("other", 4),
    (None, 5),
]
PROCEDURES = ["gastric_bypass", "biliopancreatic_diversion", "sleeve", "other"]


@dataclass
class SyntheticPatient:
    mrn: str
    given_name: str
    family_name: str
    birth_date: datetime.date
    sex: str
    email: str
    consent: bool
    neurological_involvement: bool
    pregnancy: str
    dietary_intake_adequate: str
    is_active: bool
    profile: str
    oral_since: datetime.date | None
    causes: list[dict] = field(default_factory=list)
    injections: list[tuple[datetime.datetime, str, str]] = field(default_factory=list)  # given_at, drug, site
    labs: list[tuple[datetime.date, str, Decimal, str]] = field(default_factory=list)  # day, analyte, value, unit
    symptoms: list[tuple[datetime.date, bool, bool]] = field(default_factory=list)
    medications: list[tuple[str, datetime.date, datetime.date | None]] = field(default_factory=list)


def _pick(rng: random.Random, table: list[tuple[object, int]]) -> object:
    return rng.choices([value for value, _ in table], weights=[weight for _, weight in table])[0]


def _value(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(str(round(rng.uniform(low, high), 1)))


def synthetic_patient(rng: random.Random, index: int, today: datetime.date, zone: datetime.tzinfo) -> SyntheticPatient:
    story = str(_pick(rng, STORIES))
    sex = rng.choice(["female", "male"])
    age = rng.randint(22, 92)
    birth = today - datetime.timedelta(days=age * 365 + rng.randint(0, 364))
    cause = _pick(rng, CAUSES)
    if story == "oral":
        cause = "dietary"
    causes: list[dict] = []
    if cause is not None:
        entry: dict = {"kind": cause}
        if cause in ("ileal_resection", "crohns_ileal"):
            entry["length_cm"] = rng.choice([10, 15, 20, 25, 30, 40, 60, 100])
        elif cause == "bariatric_surgery":
            entry["procedure"] = rng.choice(PROCEDURES)
        elif cause in ("ppi", "metformin"):
            entry["start"] = today - datetime.timedelta(days=rng.randint(60, 3000))
            if rng.random() < 0.2:
                entry["stop"] = entry["start"] + datetime.timedelta(days=rng.randint(30, 400))
                entry["stop"] = min(entry["stop"], today)
        elif cause == "other":
            entry["note"] = "atrophic gastritis"
        causes.append(entry)
        if cause == "dietary" and rng.random() < 0.15:
            causes.append({"kind": "ppi", "start": today - datetime.timedelta(days=rng.randint(60, 900))})
    hydroxo = rng.random() < 0.25 and story != "oral"
    profile = "hydroxocobalamin-3-monthly" if hydroxo else "monthly-cyanocobalamin"
    drug = "hydroxocobalamin" if hydroxo else "cyanocobalamin"
    neuro = rng.random() < 0.1
    pregnancy = "none"
    if sex == "female" and 22 <= age <= 44 and cause == "bariatric_surgery":
        pregnancy = rng.choice(["none", "planning", "pregnant"])
    interval = 1 if not hydroxo else (2 if neuro else 3)
    if any(c.get("length_cm", 0) > 20 and c["kind"] == "ileal_resection" for c in causes):
        interval = 1

    email = f"patient{index}@example.org" if rng.random() < 0.85 else ""
    consent = rng.random() < 0.8 and bool(email)  # the record refuses consent without an address
    patient = SyntheticPatient(
        mrn=f"GEN{index:07d}",
        given_name=rng.choice(GIVEN),
        family_name=rng.choice(FAMILY),
        birth_date=birth,
        sex=sex,
        email=email,
        consent=consent,
        neurological_involvement=neuro,
        pregnancy=pregnancy,
        dietary_intake_adequate=("yes" if story == "oral" else rng.choice(["yes", "no", "unknown"])),
        is_active=story != "discharged",
        profile=profile,
        oral_since=None,
        causes=causes,
    )

    def dose(day: datetime.date) -> None:
        at = datetime.datetime.combine(day, datetime.time(rng.randint(8, 16), rng.choice([0, 15, 30, 45])), zone)
        patient.injections.append((at, drug, SITES[len(patient.injections) % len(SITES)]))

    def draw(day: datetime.date, *, baseline: bool = False) -> None:
        roll = rng.random()
        if baseline:
            b12 = _value(rng, 60, 175)
        elif roll < 0.03:
            b12 = _value(rng, 120, 179)
        elif roll < 0.13:
            b12 = _value(rng, 190, 345)
        else:
            b12 = _value(rng, 360, 950)
        if rng.random() < 0.3:  # entered in pmol/L, as many labs report it
            patient.labs.append((day, "b12", (b12 * Decimal("0.7378")).quantize(Decimal("0.1")), "pmol/L"))
        else:
            patient.labs.append((day, "b12", b12, "pg/mL"))
        patient.labs.append((day, "hemoglobin", _value(rng, 95, 160), "g/L"))
        patient.labs.append((day, "mcv", _value(rng, 80, 112), "fL"))
        patient.labs.append((day, "ferritin", _value(rng, 12, 250), "ug/L"))
        if 180 <= b12 <= 350 or baseline:
            patient.labs.append((day, "mma", _value(rng, 120, 600), "nmol/L"))
        if hydroxo or rng.random() < 0.2:
            patient.labs.append((day, "homocysteine", _value(rng, 5, 16), "umol/L"))
        if cause == "bariatric_surgery":
            patient.labs.append((day, "vitamin_d", _value(rng, 30, 120), "nmol/L"))
            patient.labs.append((day, "folate", _value(rng, 2, 15), "ng/mL"))
        neuro_now = rng.random() < (0.35 if baseline else 0.06)
        patient.symptoms.append((day, neuro_now, rng.random() < (0.3 if baseline else 0.08)))

    if story == "not_started":
        draw(today - datetime.timedelta(days=rng.randint(1, 10)), baseline=True)
        return patient
    if story == "loading":
        first = today - datetime.timedelta(days=rng.randint(1, 20))
    else:
        first = today - datetime.timedelta(days=rng.randint(45, 5 * 365))
    draw(first - datetime.timedelta(days=rng.randint(3, 14)), baseline=True)
    if rng.random() < 0.05:
        stop = None if rng.random() < 0.5 else first + datetime.timedelta(days=rng.randint(60, 400))
        patient.medications.append(
            (
                "folic_acid",
                first - datetime.timedelta(days=rng.randint(-30, 30)),
                stop if stop and stop <= today else None,
            )
        )
    day = first
    for _ in range(4):
        if day > today:
            break
        dose(day)
        day += datetime.timedelta(days=7 + rng.choice([0, 0, 0, 1]))
    if len(patient.injections) < 4:
        return patient
    maintenance_start = add_months(patient.injections[3][0].date(), interval)
    until = today
    if story == "lost":
        until = today - datetime.timedelta(days=rng.randint(61, 400))
    if story == "oral":
        patient.oral_since = min(today, maintenance_start + datetime.timedelta(days=rng.randint(90, 400)))
        until = patient.oral_since
    n = 0
    day = maintenance_start
    while True:
        planned = add_months(maintenance_start, interval * n)
        lateness = rng.randint(8, 40) if story == "late" and planned > today - datetime.timedelta(days=60) else 0
        day = planned + datetime.timedelta(days=rng.randint(-3, 5) + lateness)
        if day > until:
            break
        dose(day)
        n += 1
    months = 3
    while True:
        recheck = add_months(maintenance_start, months) - datetime.timedelta(days=rng.randint(0, 10))
        if recheck > until:
            break
        draw(recheck)
        months += 3 if months < 6 else (6 if months < 12 else 12)
    return patient
