"""Small display helpers shared by the clinic's templates."""

from __future__ import annotations

from django import template

register = template.Library()

_SEVERITY_CLASS = {"high": "text-bg-danger", "medium": "text-bg-warning", "info": "text-bg-info"}
_VERDICT = {
    "lifelong": ("Lifelong injections", "text-bg-dark"),
    "continue": ("Continue injections", "text-bg-secondary"),
    "oral_switch_candidate": ("Oral-switch candidate", "text-bg-success"),
}
_PHASE = {"not_started": "Not started", "loading": "Loading", "maintenance": "Maintenance", "oral": "Oral therapy"}
_LABS = {
    "b12": "B12",
    "cbc": "Full blood count",
    "iron": "Iron studies",
    "mma": "MMA",
    "homocysteine": "Homocysteine",
    "bariatric_panel": "Post-bariatric panel",
}


@register.filter
def severity_class(severity: str) -> str:
    return _SEVERITY_CLASS.get(severity, "text-bg-secondary")


@register.filter
def verdict_label(verdict: str) -> str:
    return _VERDICT.get(verdict, (verdict, ""))[0]


@register.filter
def verdict_class(verdict: str) -> str:
    return _VERDICT.get(verdict, ("", "text-bg-secondary"))[1]


@register.filter
def phase_label(phase: str) -> str:
    return _PHASE.get(phase, phase)


@register.filter
def lab_labels(codes: list[str]) -> str:
    return ", ".join(_LABS.get(code, code) for code in codes or [])
