"""Small display helpers shared by the clinic's templates; the labels are the choices' own (care.models)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template
from django.utils.formats import date_format

from care.models import Phase, RecheckLab, Verdict
from patients.models import DecisionKind
from protocols.engine import units
from protocols.engine.panels import RECHECK_LAB_ANALYTES

register = template.Library()

READABLE_DATE = "j M Y"

_SEVERITY_CLASS = {"high": "text-bg-danger", "medium": "text-bg-warning", "info": "text-bg-info"}
_VERDICT_CLASS = {
    Verdict.LIFELONG: "text-bg-dark",
    Verdict.CONTINUE: "text-bg-secondary",
    Verdict.ORAL_SWITCH_CANDIDATE: "text-bg-success",
}


def _label(choices: type[Phase | Verdict | RecheckLab], value: str) -> str:
    return str(choices(value).label) if value in choices.values else value


@register.filter
def severity_class(severity: str) -> str:
    return _SEVERITY_CLASS.get(severity, "text-bg-secondary")


@register.filter
def verdict_label(verdict: str) -> str:
    return _label(Verdict, verdict)


@register.filter
def verdict_class(verdict: str) -> str:
    return _VERDICT_CLASS.get(verdict, "text-bg-secondary")


@register.filter
def phase_label(phase: str) -> str:
    return _label(Phase, phase)


@register.filter
def lab_labels(codes: list[str]) -> str:
    return ", ".join(_label(RecheckLab, code) for code in codes or [])


@register.filter
def analyte_labels(codes: list[str]) -> str:
    """Analytes still to draw, a recheck lab's name when all of its analytes are ("Iron studies"),
    else each analyte's ("Ferritin")."""
    remaining = list(codes or [])
    parts: list[str] = []
    for lab, behind in RECHECK_LAB_ANALYTES.items():
        if len(behind) > 1 and all(code in remaining for code in behind):
            parts.append(_label(RecheckLab, lab))
            remaining = [code for code in remaining if code not in behind]
    parts[:0] = [units.ANALYTES[code].label if code in units.ANALYTES else code for code in remaining if code == "b12"]
    parts += [units.ANALYTES[code].label if code in units.ANALYTES else code for code in remaining if code != "b12"]
    return ", ".join(parts)


_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def readable_date(day: datetime.date | None) -> str:
    """The one date format of the pages: 30 Nov 2026."""
    return "" if day is None else date_format(day, READABLE_DATE)


@register.filter
def readable_dates(text: str) -> str:
    """ISO dates inside a text (the engine's alert messages say "due 2026-11-30") in the pages' format."""

    def one(match: re.Match[str]) -> str:
        try:
            return readable_date(datetime.date(*(int(part) for part in match.groups())))
        except ValueError:
            return match.group(0)

    return _ISO_DATE.sub(one, str(text or ""))


_LONG_DECIMAL = re.compile(r"\b(\d+\.\d{3,})\b")


@register.filter
def readable(text: str) -> str:
    """A message for reading: its ISO dates in the pages' format and its long decimals rounded
    ("B12 of 120.0000 pg/mL on 2026-11-29" reads "B12 of 120 pg/mL on 29 Nov 2026")."""
    return _LONG_DECIMAL.sub(lambda match: reading(match.group(1)), readable_dates(text))


@register.filter
def iso_readable(value: str) -> str:
    """An ISO date kept as text (a decision's details) in the pages' format."""
    try:
        return readable_date(datetime.date.fromisoformat(str(value)))
    except ValueError:
        return str(value)


@register.filter
def reading(value: Decimal | float | int | None, digits: int = 3) -> str:
    """A value rounded for reading (the record keeps it exact): 3 significant digits, at most 2
    decimals, and no trailing zeros: 245.6789 reads 246, 0.35 reads 0.35, 1.2345 reads 1.23."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    if not number.is_finite() or number == 0:
        return str(number.normalize()) if number.is_finite() else str(value)
    places = max(0, min(2, digits - 1 - number.copy_abs().adjusted()))
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{rounded:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.simple_tag
def alert_acknowledgement(alert: Any, decisions: Iterable[Any]) -> Any:
    """The acknowledgement covering this occurrence of `alert` (care.selectors.unacknowledged_alerts'
    rule: same rule, recorded while it was active since the same date or later), from decisions already
    loaded; None when it is unacknowledged."""
    covering = [
        d
        for d in decisions
        if d.kind == DecisionKind.ALERT_ACKNOWLEDGED
        and d.alert_rule == alert.rule
        and d.alert_since
        and d.alert_since >= alert.since
    ]
    return max(covering, key=lambda d: d.made_at) if covering else None
