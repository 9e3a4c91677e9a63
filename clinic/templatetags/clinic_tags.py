"""Small display helpers shared by the clinic's templates; the labels are the choices' own (care.models)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
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


# The dashboard's rows ---------------------------------------------------------------------------------
# Up to sixty rows a request on the physicians' most opened page: written here with format_html rather
# than a template loop, which cost some 100 µs a row (a URL tag, filters and variable lookups per cell)
# and was the page's largest Python cost after its queries (bench/README.md). The same markup as the
# template had (tests/ui/test_page_rows.py compares the two). What repeats from row to row is
# worked out once a table: the chart's URL around the patient's id, month names, choice labels.


class _Cells:
    """Cell values for one table's rows, the repeated parts computed once."""

    _MARK = 987654321

    def __init__(self) -> None:
        self.chart_url = self._url("patient_detail")
        self.acknowledge_url = self._url("decision_create", "acknowledge")
        self.labels: dict[object, str] = {}
        self.days: dict[datetime.date | None, str] = {}

    @classmethod
    def _url(cls, name: str, *rest: str) -> Callable[[int], str]:
        """reverse(name, args=[patient_id, *rest]) for any id: reversed once, the id put in its place."""
        before, after = reverse(name, args=[cls._MARK, *rest]).split(str(cls._MARK))
        return lambda patient_id: f"{before}{int(patient_id)}{after}"

    def date(self, day: datetime.date | None) -> str:
        if day not in self.days:
            self.days[day] = readable_date(day)
        return self.days[day]

    def label(self, make: Callable[[Any], str], value: Any) -> str:
        key = (make, tuple(value) if isinstance(value, list) else value)
        if key not in self.labels:
            self.labels[key] = make(value)
        return self.labels[key]

    def patient(self, patient: Any, *, below: bool) -> SafeString:
        """The patient's name linking to the chart, the record number beside it or below it."""
        mrn = '<div class="small text-muted">{}</div>' if below else ' <span class="small text-muted">{}</span>'
        return format_html(
            '<td><a href="{}">{}</a>' + mrn + "</td>", self.chart_url(patient.pk), patient.full_name, patient.mrn
        )


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _rows(rows: Iterable[Any], row: Callable[[Any], SafeString], empty: str, columns: int) -> SafeString:
    html = format_html_join("\n", "{}", ((row(r),) for r in rows))
    return html or format_html('<tr><td colspan="{}" class="text-muted">{}</td></tr>', columns, empty)


@register.simple_tag
def injection_rows(rows: Iterable[Any], empty: str) -> SafeString:
    """Injections overdue or lost to follow-up (care.selectors.InjectionDue)."""
    cells = _Cells()

    def row(r: Any) -> SafeString:
        return format_html(
            '<tr data-patient="{}">{}<td>{}</td><td><span class="badge text-bg-danger">{}</span></td>'
            '<td class="small">{}</td></tr>',
            r.patient.mrn,
            cells.patient(r.patient, below=False),
            cells.date(r.status.next_injection_due),
            _days(r.days_overdue),
            cells.label(verdict_label, r.status.verdict),
        )

    return _rows(rows, row, empty, 4)


@register.simple_tag
def recheck_rows(overdue: Iterable[Any], soon: Iterable[Any], empty: str) -> SafeString:
    """Rechecks overdue, then due soon (care.selectors.RecheckDue)."""
    cells = _Cells()

    def row(r: Any, name: str, when: SafeString) -> SafeString:
        return format_html(
            '<tr data-patient="{}" data-list="{}">{}<td>{} {}</td><td class="small">{}</td></tr>',
            r.patient.mrn,
            name,
            cells.patient(r.patient, below=False),
            cells.date(r.status.next_recheck_due),
            when,
            cells.label(lab_labels, r.status.recheck_labs),
        )

    late = [
        row(
            r,
            "rechecks_overdue",
            format_html('<span class="badge text-bg-warning">{} overdue</span>', _days(r.days_overdue)),
        )
        for r in overdue
    ]
    coming = [
        row(r, "rechecks_soon", format_html('<span class="small text-muted">in {}</span>', _days(r.days_until)))
        for r in soon
    ]
    return _rows([*late, *coming], lambda html: html, empty, 3)


@register.simple_tag
def alert_rows(rows: Iterable[Any], can_acknowledge: bool, empty: str) -> SafeString:
    """Unacknowledged high and medium alerts (care.selectors.AlertRow), with the acknowledge button for
    those who may record a decision."""
    cells = _Cells()

    def row(r: Any) -> SafeString:
        alert = r.alert
        button = (
            format_html(
                '<a class="btn btn-sm btn-outline-secondary" href="{}?alert={}">Acknowledge</a>',
                cells.acknowledge_url(r.patient.pk),
                alert["rule"],
            )
            if can_acknowledge
            else ""
        )
        return format_html(
            '<tr data-patient="{}" data-rule="{}">{}<td><span class="badge {}">{}</span> <span class="small">{}</span>'
            '<div class="small text-muted">{}</div></td><td class="small">{}</td><td>{}</td></tr>',
            r.patient.mrn,
            alert["rule"],
            cells.patient(r.patient, below=True),
            severity_class(alert["severity"]),
            alert["severity"],
            readable(alert["message"]),
            alert["rule"],
            cells.date(r.care_alert.since),
            button,
        )

    return _rows(rows, row, empty, 4)


@register.simple_tag
def oral_candidate_rows(statuses: Iterable[Any], empty: str) -> SafeString:
    """Oral-switch candidates awaiting a decision (care statuses)."""
    cells = _Cells()

    def row(status: Any) -> SafeString:
        return format_html(
            '<tr data-patient="{}">{}<td>{}</td><td><a class="btn btn-sm btn-outline-success" href="{}#decisions">'
            "Review</a></td></tr>",
            status.patient.mrn,
            cells.patient(status.patient, below=True),
            floatformat(status.latest_b12, 0),
            cells.chart_url(status.patient.pk),
        )

    return _rows(statuses, row, empty, 3)


# The worklist's rows: up to a hundred a request (fifty a list), written as the dashboard's are.


@register.simple_tag
def worklist_injection_rows(rows: Iterable[Any], back: str) -> SafeString:
    """Injections due today or overdue (care.selectors.InjectionDue), each with its button to log one
    (coming `back` to the worklist)."""
    cells, log_url = _Cells(), _Cells._url("injection_create")

    def row(r: Any) -> SafeString:
        status = (
            format_html('<span class="badge text-bg-danger">{} overdue</span>', _days(r.days_overdue))
            if r.days_overdue
            else mark_safe('<span class="badge text-bg-primary">Due today</span>')
        )
        return format_html(
            '<tr data-patient="{}"><td><a href="{}">{}</a></td><td>{}</td>'
            '<td class="d-none d-sm-table-cell">{}</td><td class="text-nowrap">{}</td><td>{}</td>'
            '<td class="text-end"><a class="btn btn-sm btn-primary" href="{}?next={}" aria-label="Log injection for {}">'
            'Log<span class="d-none d-sm-inline"> injection</span></a></td></tr>',
            r.patient.mrn,
            cells.chart_url(r.patient.pk),
            r.patient.full_name,
            r.patient.mrn,
            cells.label(phase_label, r.status.phase),
            cells.date(r.status.next_injection_due),
            status,
            log_url(r.patient.pk),
            back,
            r.patient.full_name,
        )

    return _rows(rows, row, "No injection is due today.", 6)


@register.simple_tag
def worklist_recheck_rows(rows: Iterable[Any], back: str) -> SafeString:
    """Lab rechecks due (care.selectors.RecheckDue, by the date their labs are due), with the labs
    still to draw and the button to enter results."""
    cells, results_url = _Cells(), _Cells._url("lab_panel_create")

    def row(r: Any) -> SafeString:
        if r.days_overdue:
            when = format_html('<span class="badge text-bg-warning">{} overdue</span>', _days(r.days_overdue))
        elif r.days_until == 0:
            when = mark_safe('<span class="badge text-bg-primary">today</span>')
        else:
            when = format_html('<span class="text-muted small">in {}</span>', _days(r.days_until))
        begun = (
            mark_safe(' <span class="small text-muted">(the rest of a recheck begun)</span>')
            if r.status.labs_due_on != r.status.next_recheck_due
            else ""
        )
        return format_html(
            '<tr data-patient="{}"><td><a href="{}">{}</a></td><td>{}</td><td>{} {}</td>'
            '<td data-testid="labs-to-draw">{}{}</td><td class="text-end"><a class="btn btn-sm btn-outline-primary" '
            'href="{}?next={}">Enter results</a></td></tr>',
            r.patient.mrn,
            cells.chart_url(r.patient.pk),
            r.patient.full_name,
            r.patient.mrn,
            cells.date(r.status.labs_due_on),
            when,
            cells.label(analyte_labels, r.status.labs_to_draw),
            begun,
            results_url(r.patient.pk),
            back,
        )

    return _rows(rows, row, "No lab recheck is due this week.", 5)
