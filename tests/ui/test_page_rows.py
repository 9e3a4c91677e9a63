"""The dashboard's and the worklist's rows, written by clinic_tags with format_html (issue 16: the
template loop cost some 100 µs a row), give the markup the template gave: compared here with the
template they replaced, on rows whose names need escaping, for a physician and for someone who may not
acknowledge."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template import Context, Template

from care.selectors import AlertRow, InjectionDue, RecheckDue

# The template markup of the rows before issue 16 (templates/clinic/dashboard.html, _injection_rows.html).
BEFORE = {
    "injections": """{% load clinic_tags %}{% for row in rows %}
    <tr data-patient="{{ row.patient.mrn }}">
      <td><a href="{% url 'patient_detail' row.patient.pk %}">{{ row.patient.full_name }}</a> <span class="small text-muted">{{ row.patient.mrn }}</span></td>
      <td>{{ row.status.next_injection_due|date:"j M Y" }}</td>
      <td><span class="badge text-bg-danger">{{ row.days_overdue }} day{{ row.days_overdue|pluralize }}</span></td>
      <td class="small">{{ row.status.verdict|verdict_label }}</td>
    </tr>
  {% empty %}<tr><td colspan="4" class="text-muted">{{ empty }}</td></tr>{% endfor %}""",
    "alerts": """{% load clinic_tags %}{% for row in board.alerts %}
        <tr data-patient="{{ row.patient.mrn }}" data-rule="{{ row.alert.rule }}">
          <td><a href="{% url 'patient_detail' row.patient.pk %}">{{ row.patient.full_name }}</a><div class="small text-muted">{{ row.patient.mrn }}</div></td>
          <td><span class="badge {{ row.alert.severity|severity_class }}">{{ row.alert.severity }}</span> <span class="small">{{ row.alert.message|readable }}</span><div class="small text-muted">{{ row.alert.rule }}</div></td>
          <td class="small">{{ row.care_alert.since|date:"j M Y" }}</td>
          <td>{% if can %}<a class="btn btn-sm btn-outline-secondary" href="{% url 'decision_create' row.patient.pk 'acknowledge' %}?alert={{ row.alert.rule }}">Acknowledge</a>{% endif %}</td>
        </tr>
      {% empty %}<tr><td colspan="4" class="text-muted">No open high or medium alert.</td></tr>{% endfor %}""",
    "oral": """{% load clinic_tags %}{% for status in board.oral_candidates %}
        <tr data-patient="{{ status.patient.mrn }}">
          <td><a href="{% url 'patient_detail' status.patient.pk %}">{{ status.patient.full_name }}</a><div class="small text-muted">{{ status.patient.mrn }}</div></td>
          <td>{{ status.latest_b12|floatformat:0 }}</td>
          <td><a class="btn btn-sm btn-outline-success" href="{% url 'patient_detail' status.patient.pk %}#decisions">Review</a></td>
        </tr>
      {% empty %}<tr><td colspan="3" class="text-muted">None awaiting a decision.</td></tr>{% endfor %}""",
    "rechecks": """{% load clinic_tags %}{% for row in board.rechecks_overdue %}
        <tr data-patient="{{ row.patient.mrn }}" data-list="rechecks_overdue"><td><a href="{% url 'patient_detail' row.patient.pk %}">{{ row.patient.full_name }}</a> <span class="small text-muted">{{ row.patient.mrn }}</span></td>
          <td>{{ row.status.next_recheck_due|date:"j M Y" }} <span class="badge text-bg-warning">{{ row.days_overdue }} day{{ row.days_overdue|pluralize }} overdue</span></td><td class="small">{{ row.status.recheck_labs|lab_labels }}</td></tr>
      {% endfor %}
      {% for row in board.rechecks_soon %}
        <tr data-patient="{{ row.patient.mrn }}" data-list="rechecks_soon"><td><a href="{% url 'patient_detail' row.patient.pk %}">{{ row.patient.full_name }}</a> <span class="small text-muted">{{ row.patient.mrn }}</span></td>
          <td>{{ row.status.next_recheck_due|date:"j M Y" }} <span class="small text-muted">in {{ row.days_until }} day{{ row.days_until|pluralize }}</span></td><td class="small">{{ row.status.recheck_labs|lab_labels }}</td></tr>
      {% endfor %}
      {% if not board.rechecks_overdue and not board.rechecks_soon %}<tr><td colspan="3" class="text-muted">No recheck due in the next 14 days.</td></tr>{% endif %}""",
}
BEFORE["worklist_injections"] = """{% load clinic_tags %}{% for row in worklist.injections %}
        <tr data-patient="{{ row.patient.mrn }}">
          <td><a href="{% url 'patient_detail' row.patient.pk %}">{{ row.patient.full_name }}</a></td>
          <td>{{ row.patient.mrn }}</td>
          <td class="d-none d-sm-table-cell">{{ row.status.phase|phase_label }}</td>
          <td class="text-nowrap">{{ row.status.next_injection_due|date:"j M Y" }}</td>
          <td>{% if row.days_overdue %}<span class="badge text-bg-danger">{{ row.days_overdue }} day{{ row.days_overdue|pluralize }} overdue</span>{% else %}<span class="badge text-bg-primary">Due today</span>{% endif %}</td>
          <td class="text-end"><a class="btn btn-sm btn-primary" href="{% url 'injection_create' row.patient.pk %}?next={{ worklist_url }}" aria-label="Log injection for {{ row.patient.full_name }}">Log<span class="d-none d-sm-inline"> injection</span></a></td>
        </tr>
      {% empty %}
        <tr><td colspan="6" class="text-muted">No injection is due today.</td></tr>
      {% endfor %}"""
BEFORE["worklist_rechecks"] = """{% load clinic_tags %}{% for row in worklist.rechecks %}
        <tr data-patient="{{ row.patient.mrn }}">
          <td><a href="{% url 'patient_detail' row.patient.pk %}">{{ row.patient.full_name }}</a></td>
          <td>{{ row.patient.mrn }}</td>
          <td>{{ row.status.labs_due_on|date:"j M Y" }}
            {% if row.days_overdue %}<span class="badge text-bg-warning">{{ row.days_overdue }} day{{ row.days_overdue|pluralize }} overdue</span>{% elif row.days_until == 0 %}<span class="badge text-bg-primary">today</span>{% else %}<span class="text-muted small">in {{ row.days_until }} day{{ row.days_until|pluralize }}</span>{% endif %}</td>
          <td data-testid="labs-to-draw">{{ row.status.labs_to_draw|analyte_labels }}{% if row.status.labs_due_on != row.status.next_recheck_due %} <span class="small text-muted">(the rest of a recheck begun)</span>{% endif %}</td>
          <td class="text-end"><a class="btn btn-sm btn-outline-primary" href="{% url 'lab_panel_create' row.patient.pk %}?next={{ worklist_url }}">Enter results</a></td>
        </tr>
      {% empty %}
        <tr><td colspan="5" class="text-muted">No lab recheck is due this week.</td></tr>
      {% endfor %}"""
AFTER = {
    "worklist_injections": "{% load clinic_tags %}{% worklist_injection_rows worklist.injections worklist_url %}",
    "worklist_rechecks": "{% load clinic_tags %}{% worklist_recheck_rows worklist.rechecks worklist_url %}",
    "injections": "{% load clinic_tags %}{% injection_rows rows empty %}",
    "alerts": '{% load clinic_tags %}{% alert_rows board.alerts can "No open high or medium alert." %}',
    "oral": '{% load clinic_tags %}{% oral_candidate_rows board.oral_candidates "None awaiting a decision." %}',
    "rechecks": (
        "{% load clinic_tags %}"
        '{% recheck_rows board.rechecks_overdue board.rechecks_soon "No recheck due in the next 14 days." %}'
    ),
}


def normalised(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


def patient(pk: int, given: str, family: str, mrn: str) -> SimpleNamespace:
    return SimpleNamespace(pk=pk, mrn=mrn, full_name=f"{given} {family}")


def status(who: SimpleNamespace, **values: object) -> SimpleNamespace:
    return SimpleNamespace(patient=who, patient_id=who.pk, **values)


def boards() -> list[SimpleNamespace]:
    odd = patient(7, "Zoë <b>", 'O\'Brien & "Sons"', "MRN<1>")
    plain = patient(1234567, "Ann", "Lee", "A-1")
    day = datetime.date(2026, 5, 1)
    alert = SimpleNamespace(
        patient=odd,
        patient_id=odd.pk,
        rule="ALERT-B12-LOW",
        severity_name="high",
        message="B12 of 120.0000 pg/mL on 2026-11-29 <low>",
        since=day,
    )
    full = SimpleNamespace(
        overdue=[InjectionDue(status(odd, next_injection_due=day, verdict="continue"), 1)],
        lost=[InjectionDue(status(plain, next_injection_due=day, verdict="odd-verdict"), 61)],
        rechecks_overdue=[RecheckDue(status(odd, next_recheck_due=day, recheck_labs=["b12", "iron"]), -1)],
        rechecks_soon=[RecheckDue(status(plain, next_recheck_due=day, recheck_labs=[]), 1), RecheckDue(
            status(odd, next_recheck_due=None, recheck_labs=["cbc"]), 3
        )],
        alerts=[AlertRow(alert), AlertRow(SimpleNamespace(**{**vars(alert), "severity_name": "medium", "patient": plain}))],
        oral_candidates=[status(odd, latest_b12=Decimal("412.5000")), status(plain, latest_b12=None)],
    )  # fmt: skip
    full.worklist = SimpleNamespace(
        injections=[
            InjectionDue(status(odd, phase="maintenance", next_injection_due=day), 3),
            InjectionDue(status(plain, phase="odd-phase", next_injection_due=day), 0),
            InjectionDue(status(plain, phase="loading", next_injection_due=day), 1),
        ],
        rechecks=[
            RecheckDue(status(odd, labs_due_on=day, next_recheck_due=day, labs_to_draw=["b12", "ferritin"]), -2),
            RecheckDue(status(plain, labs_due_on=day, next_recheck_due=None, labs_to_draw=["folate"]), 0),
            RecheckDue(status(odd, labs_due_on=None, next_recheck_due=day, labs_to_draw=[]), 1),
            RecheckDue(status(plain, labs_due_on=day, next_recheck_due=day, labs_to_draw=["mma"]), 4),
        ],
    )
    empty = SimpleNamespace(overdue=[], lost=[], rechecks_overdue=[], rechecks_soon=[], alerts=[], oral_candidates=[])
    empty.worklist = SimpleNamespace(injections=[], rechecks=[])
    return [full, empty]


@pytest.mark.parametrize("table", list(BEFORE))
@pytest.mark.parametrize("can", [True, False])
@pytest.mark.parametrize("board", boards(), ids=["rows", "empty"])
def test_the_rows_are_the_markup_the_template_gave(table: str, can: bool, board: SimpleNamespace) -> None:
    for rows in (board.overdue, board.lost):
        context = {
            "board": board,
            "rows": rows,
            "empty": "No injection overdue.",
            "can": can,
            "worklist": board.worklist,
            "worklist_url": "/worklist/?a=1&b=<2>",
        }
        before = normalised(Template(BEFORE[table]).render(Context(context)))
        after = normalised(Template(AFTER[table]).render(Context(context)))
        assert after == before
        assert "<b>" not in after and "<low>" not in after  # escaped, as the template escaped them
