"""Small display helpers shared by the clinic's templates; the labels are the choices' own (care.models)."""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe

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


# The dashboard's and the worklist's rows -----------------------------------------------------------------
# Up to a hundred rows a request on the two most opened pages: written here as plain strings rather than
# a template loop, which cost some 100 µs a row (a URL tag, filters and variable lookups per cell) and
# was the pages' largest Python cost after their queries (bench/README.md); format_html itself cost
# some 20 µs a call. Every value is escaped as Django's templates escape (`_e`, the same html.escape);
# tests/ui/test_page_rows.py compares the markup with the template loops it replaced, on names that
# need escaping. What repeats from row to row is worked out once a table: the URLs around the
# patient's id, dates, choice labels.


def _e(value: object) -> str:
    """Escaped as Django's autoescape escapes (django.utils.html.escape is html.escape of str())."""
    return html.escape(str(value))


class _Cells:
    """Cell values for one table's rows, escaped, the repeated parts computed once."""

    _MARK = 987654321

    def __init__(self) -> None:
        self.chart_url = self.url("patient_detail")
        self.labels: dict[object, str] = {}
        self.days: dict[datetime.date | None, str] = {}

    @classmethod
    def url(cls, name: str, *rest: str) -> Callable[[int], str]:
        """reverse(name, args=[patient_id, *rest]) for any id, escaped: reversed once, the id put in its
        place."""
        before, after = _e(reverse(name, args=[cls._MARK, *rest])).split(str(cls._MARK))
        return lambda patient_id: f"{before}{int(patient_id)}{after}"

    def date(self, day: datetime.date | None) -> str:
        if day not in self.days:
            self.days[day] = _e(readable_date(day))
        return self.days[day]

    def label(self, make: Callable[[Any], str], value: Any) -> str:
        key = (make, tuple(value) if isinstance(value, list) else value)
        if key not in self.labels:
            self.labels[key] = _e(make(value))
        return self.labels[key]

    def patient(self, patient: Any, *, below: bool) -> str:
        """The patient's name linking to the chart, the record number beside it or below it."""
        name, mrn = _e(patient.full_name), _e(patient.mrn)
        after = (
            f'<div class="small text-muted">{mrn}</div>' if below else f' <span class="small text-muted">{mrn}</span>'
        )
        return f'<td><a href="{self.chart_url(patient.pk)}">{name}</a>{after}</td>'


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _rows(rows: Iterable[str], empty: str, columns: int) -> SafeString:
    html_rows = "\n".join(rows)
    return mark_safe(html_rows or f'<tr><td colspan="{columns}" class="text-muted">{_e(empty)}</td></tr>')


@register.simple_tag
def injection_rows(rows: Iterable[Any], empty: str) -> SafeString:
    """Injections overdue or lost to follow-up (care.selectors.InjectionDue)."""
    cells = _Cells()
    return _rows(
        (
            f'<tr data-patient="{_e(r.patient.mrn)}">{cells.patient(r.patient, below=False)}'
            f"<td>{cells.date(r.status.next_injection_due)}</td>"
            f'<td><span class="badge text-bg-danger">{_days(r.days_overdue)}</span></td>'
            f'<td class="small">{cells.label(verdict_label, r.status.verdict)}</td></tr>'
            for r in rows
        ),
        empty,
        4,
    )


@register.simple_tag
def recheck_rows(overdue: Iterable[Any], soon: Iterable[Any], empty: str) -> SafeString:
    """Rechecks overdue, then due soon (care.selectors.RecheckDue)."""
    cells = _Cells()

    def row(r: Any, name: str, when: str) -> str:
        return (
            f'<tr data-patient="{_e(r.patient.mrn)}" data-list="{name}">{cells.patient(r.patient, below=False)}'
            f"<td>{cells.date(r.status.next_recheck_due)} {when}</td>"
            f'<td class="small">{cells.label(lab_labels, r.status.recheck_labs)}</td></tr>'
        )

    late = [
        row(r, "rechecks_overdue", f'<span class="badge text-bg-warning">{_days(r.days_overdue)} overdue</span>')
        for r in overdue
    ]
    coming = [row(r, "rechecks_soon", f'<span class="small text-muted">in {_days(r.days_until)}</span>') for r in soon]
    return _rows([*late, *coming], empty, 3)


@register.simple_tag
def alert_rows(rows: Iterable[Any], can_acknowledge: bool, empty: str) -> SafeString:
    """Unacknowledged high and medium alerts (care.selectors.AlertRow), with the acknowledge button for
    those who may record a decision."""
    cells, acknowledge_url = _Cells(), _Cells.url("decision_create", "acknowledge")

    def row(r: Any) -> str:
        alert = r.alert
        rule = _e(alert["rule"])
        button = (
            f'<a class="btn btn-sm btn-outline-secondary" href="{acknowledge_url(r.patient.pk)}?alert={rule}">'
            "Acknowledge</a>"
            if can_acknowledge
            else ""
        )
        return (
            f'<tr data-patient="{_e(r.patient.mrn)}" data-rule="{rule}">{cells.patient(r.patient, below=True)}'
            f'<td><span class="badge {_e(severity_class(alert["severity"]))}">{_e(alert["severity"])}</span> '
            f'<span class="small">{_e(readable(alert["message"]))}</span>'
            f'<div class="small text-muted">{rule}</div></td>'
            f'<td class="small">{cells.date(r.care_alert.since)}</td><td>{button}</td></tr>'
        )

    return _rows(map(row, rows), empty, 4)


@register.simple_tag
def oral_candidate_rows(statuses: Iterable[Any], empty: str) -> SafeString:
    """Oral-switch candidates awaiting a decision (care statuses)."""
    cells = _Cells()
    return _rows(
        (
            f'<tr data-patient="{_e(status.patient.mrn)}">{cells.patient(status.patient, below=True)}'
            f"<td>{_e(floatformat(status.latest_b12, 0))}</td>"
            f'<td><a class="btn btn-sm btn-outline-success" href="{cells.chart_url(status.patient.pk)}#decisions">'
            "Review</a></td></tr>"
            for status in statuses
        ),
        empty,
        3,
    )


@register.simple_tag
def worklist_injection_rows(rows: Iterable[Any], back: str) -> SafeString:
    """Injections due today or overdue (care.selectors.InjectionDue), each with its button to log one
    (coming `back` to the worklist)."""
    cells, log_url, back = _Cells(), _Cells.url("injection_create"), _e(back)

    def row(r: Any) -> str:
        status = (
            f'<span class="badge text-bg-danger">{_days(r.days_overdue)} overdue</span>'
            if r.days_overdue
            else '<span class="badge text-bg-primary">Due today</span>'
        )
        name, mrn = _e(r.patient.full_name), _e(r.patient.mrn)
        return (
            f'<tr data-patient="{mrn}"><td><a href="{cells.chart_url(r.patient.pk)}">{name}</a></td><td>{mrn}</td>'
            f'<td class="d-none d-sm-table-cell">{cells.label(phase_label, r.status.phase)}</td>'
            f'<td class="text-nowrap">{cells.date(r.status.next_injection_due)}</td><td>{status}</td>'
            f'<td class="text-end"><a class="btn btn-sm btn-primary" href="{log_url(r.patient.pk)}?next={back}" '
            f'aria-label="Log injection for {name}">Log<span class="d-none d-sm-inline"> injection</span></a></td></tr>'
        )

    return _rows(map(row, rows), "No injection is due today.", 6)


@register.simple_tag
def worklist_recheck_rows(rows: Iterable[Any], back: str) -> SafeString:
    """Lab rechecks due (care.selectors.RecheckDue, by the date their labs are due), with the labs
    still to draw and the button to enter results."""
    cells, results_url, back = _Cells(), _Cells.url("lab_panel_create"), _e(back)

    def row(r: Any) -> str:
        if r.days_overdue:
            when = f'<span class="badge text-bg-warning">{_days(r.days_overdue)} overdue</span>'
        elif r.days_until == 0:
            when = '<span class="badge text-bg-primary">today</span>'
        else:
            when = f'<span class="text-muted small">in {_days(r.days_until)}</span>'
        begun = (
            ' <span class="small text-muted">(the rest of a recheck begun)</span>'
            if r.status.labs_due_on != r.status.next_recheck_due
            else ""
        )
        name, mrn = _e(r.patient.full_name), _e(r.patient.mrn)
        return (
            f'<tr data-patient="{mrn}"><td><a href="{cells.chart_url(r.patient.pk)}">{name}</a></td><td>{mrn}</td>'
            f"<td>{cells.date(r.status.labs_due_on)} {when}</td>"
            f'<td data-testid="labs-to-draw">{cells.label(analyte_labels, r.status.labs_to_draw)}{begun}</td>'
            f'<td class="text-end"><a class="btn btn-sm btn-outline-primary" href="{results_url(r.patient.pk)}'
            f'?next={back}">Enter results</a></td></tr>'
        )

    return _rows(map(row, rows), "No lab recheck is due this week.", 5)
