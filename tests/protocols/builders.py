"""Small builders for engine facts, so a boundary test reads as the situation it describes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from protocols.engine.dates import add_months
from protocols.engine.facts import (
    CauseFact,
    Facts,
    InjectionFact,
    LabFact,
    MedicationFact,
    PatientFacts,
    RegimenFacts,
    SymptomFact,
)

D = date.fromisoformat

# The standard history: loading 3-24 Jan 2025, maintenance start M = 24 Feb 2025, monthly after that.
LOADING_START = D("2025-01-03")
M = D("2025-02-24")


def loading(start: date = LOADING_START, doses: int = 4) -> list[date]:
    return [start + timedelta(days=7 * i) for i in range(doses)]


def monthly(start: date, count: int) -> list[date]:
    return [add_months(start, i) for i in range(count)]


def history(until: date) -> list[date]:
    """Loading, then a monthly dose on the 24th of every month up to `until`."""
    doses = loading()
    day = M
    while day <= until:
        doses.append(day)
        day = add_months(day, 1)
    return doses


def cause(code: str, **fields: object) -> CauseFact:
    for key in ("start", "stop"):
        if isinstance(fields.get(key), str):
            fields[key] = D(fields[key])  # type: ignore[arg-type]
    return CauseFact(code=code, **fields)  # type: ignore[arg-type]


def facts(
    as_of: str | date,
    *,
    causes: tuple[CauseFact, ...] | list[CauseFact] = (),
    injections: list[date] | None = None,
    labs: list[tuple[str, str, object]] = (),  # type: ignore[assignment]
    symptoms: list[tuple[str, bool, bool]] = (),  # type: ignore[assignment]
    medications: list[tuple[str, str, str | None]] = (),  # type: ignore[assignment]
    birth: str = "1970-05-10",
    neuro: bool = False,
    pregnancy: str = "none",
    diet: bool | None = None,
    profile: str = "monthly-cyanocobalamin",
    override: int | None = None,
    oral_since: str | None = None,
    days: int | None = None,
    recheck_on: str | None = None,
) -> Facts:
    as_of_day = D(as_of) if isinstance(as_of, str) else as_of
    return Facts(
        as_of=as_of_day,
        patient=PatientFacts(
            birth_date=D(birth),
            causes=tuple(causes),
            neurological_involvement=neuro,
            pregnancy=pregnancy,
            dietary_intake_adequate=diet,
        ),
        regimen=RegimenFacts(
            profile=profile,
            maintenance_interval_months=override,
            oral_since=D(oral_since) if oral_since else None,
            maintenance_interval_days=days,
            recheck_on=D(recheck_on) if recheck_on else None,
        ),
        injections=tuple(InjectionFact(day, "cyanocobalamin", 1000) for day in (injections or [])),
        labs=tuple(LabFact(D(day), analyte, Decimal(str(value))) for day, analyte, value in labs),
        symptoms=tuple(SymptomFact(D(day), neuro_, dep) for day, neuro_, dep in symptoms),
        medications=tuple(
            MedicationFact(name, D(start), D(stop) if stop else None) for name, start, stop in medications
        ),
    )
