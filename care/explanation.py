"""Explanation: why the care status says what it says, rule by rule, in the numbers in force.

Each rule's text is rendered from the profile version that produced the evaluation (a clinic admin
who changes a threshold sees the new number here, and an older evaluation keeps the numbers it was
made with), and cites its sources by title. Rules are listed once each, with the results they shaped.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from care.models import CareAlert, CareStatus, Phase, RecheckLab, Verdict
from protocols.engine import rules
from protocols.engine.profiles import Profile
from protocols.models import ProtocolProfile
from protocols.selectors import profile_to_engine


@dataclass(frozen=True)
class Finding:
    """One result of the evaluation, as the chart shows it."""

    label: str
    value: str


@dataclass(frozen=True)
class RuleExplanation:
    id: str
    text: str
    sources: tuple[str, ...]
    findings: tuple[Finding, ...]


_RESULTS = (
    ("phase", "Phase"),
    ("next_injection_due", "Next injection due"),
    ("maintenance_interval_months", "Maintenance interval"),
    ("maintenance_interval_days", "Maintenance interval"),
    ("suggested_interval_months", "The protocol's own interval"),
    ("next_recheck_due", "Next lab recheck due"),
    ("rules_recheck_due", "The recheck the rules give"),
    ("recheck_labs", "Labs to draw at the recheck"),
    ("discontinuation", "Verdict on stopping injections"),
)


def _shown(value: object) -> str:
    if value is None or value == []:
        return "none"
    if isinstance(value, datetime.date):
        return f"{value.day} {value:%b %Y}"
    return str(value)


def _values(status: CareStatus) -> dict[str, str]:
    def months(n: int | None) -> str:
        return "none" if n is None else f"{n} month{'s' if n != 1 else ''}"

    verdict = str(Verdict(status.verdict).label) if status.verdict in Verdict.values else status.verdict
    if status.phase == Phase.ORAL and status.verdict == Verdict.ORAL_SWITCH_CANDIDATE:
        verdict = "On oral therapy, as the protocol allows"
    if status.verdict_unmet:
        verdict += f" (not met yet: {', '.join(status.verdict_unmet)})"
    return {
        "phase": str(Phase(status.phase).label) if status.phase in Phase.values else status.phase,
        "next_injection_due": _shown(status.next_injection_due),
        "maintenance_interval_months": months(status.maintenance_interval_months),
        "maintenance_interval_days": f"{status.maintenance_interval_days} days",
        "suggested_interval_months": months(status.suggested_interval_months),
        "next_recheck_due": _shown(status.next_recheck_due),
        "rules_recheck_due": _shown(status.rules_recheck_due),
        "recheck_labs": ", ".join(
            str(RecheckLab(code).label) if code in RecheckLab.values else code for code in status.recheck_labs
        )
        or "none",
        "discontinuation": verdict,
    }


def profile_in_force(status: CareStatus) -> Profile:
    """The engine profile of the version that produced `status`: the current row when it is that
    version, else that version's historical row (every version is kept)."""
    row: ProtocolProfile = status.profile
    if row.version != status.profile_version:
        old = ProtocolProfile.history.filter(id=row.pk, version=status.profile_version).order_by("-history_id").first()
        if old is not None:
            row = old
    return profile_to_engine(row)


def care_status_explanation(status: CareStatus, *, alerts: Iterable[CareAlert] = ()) -> list[RuleExplanation]:
    """Every rule behind the stored results and alerts, once each in the order they first shaped a
    result, with its text in the profile's numbers, its sources, and the results it shaped."""
    profile = profile_in_force(status)
    values = _values(status)
    findings: dict[str, list[Finding]] = {}
    for name, label in _RESULTS:
        for rule_id in status.because.get(name, ()):
            findings.setdefault(rule_id, []).append(Finding(label, values[name]))
    for alert in alerts:
        findings.setdefault(alert.rule, []).append(Finding(f"Alert ({alert.severity_name})", alert.message))
    return [
        RuleExplanation(
            id=rule_id,
            text=rules.rule_text(rule_id, profile),
            sources=rules.RULES[rule_id].source_titles,
            findings=tuple(found),
        )
        for rule_id, found in findings.items()
    ]
