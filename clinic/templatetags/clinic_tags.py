"""Small display helpers shared by the clinic's templates; the labels are the choices' own (care.models)."""

from __future__ import annotations

from django import template

from care.models import Phase, RecheckLab, Verdict

register = template.Library()

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
