"""What a new profile version would change for one patient, and the counts over many: pure.

The preview of a protocol change (care.preview) evaluates each patient under the version in force
and under the draft, reduces both to an `Outcome` (what the pages, the worklist and the reminders
read: the two due dates, the verdict, the alerts) and compares them here. The same reduction applies
to stored care statuses, so a preview can be checked against what publishing then stored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from .evaluate import Evaluation

EARLIER, LATER, ADDED, REMOVED = "earlier", "later", "added", "removed"
MOVES = (EARLIER, LATER, ADDED, REMOVED)


@dataclass(frozen=True, slots=True)
class Outcome:
    next_injection_due: date | None
    next_recheck_due: date | None
    verdict: str
    alerts: frozenset[str]  # rule ids

    @classmethod
    def of(cls, evaluation: Evaluation, *, in_care: bool = True) -> Outcome:
        """A discharged patient (`in_care` False) has no alerts, as care.services stores it."""
        return cls(
            evaluation.next_injection_due,
            evaluation.next_recheck_due,
            evaluation.discontinuation.verdict,
            frozenset(alert.rule for alert in evaluation.alerts) if in_care else frozenset(),
        )


def move(old: date | None, new: date | None) -> str:
    """How a due date moves: "" (not at all), earlier, later, added (none before) or removed."""
    if old == new:
        return ""
    if old is None:
        return ADDED
    if new is None:
        return REMOVED
    return EARLIER if new < old else LATER


@dataclass(frozen=True, slots=True)
class Change:
    next_injection: str = ""  # one of MOVES, or ""
    next_recheck: str = ""
    verdict: tuple[str, str] | None = None  # (old, new)
    alerts_added: tuple[str, ...] = ()
    alerts_removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.next_injection or self.next_recheck or self.verdict or self.alerts_added or self.alerts_removed
        )


NO_CHANGE = Change()


def compare(old: Outcome, new: Outcome) -> Change:
    if old == new:
        return NO_CHANGE
    return Change(
        next_injection=move(old.next_injection_due, new.next_injection_due),
        next_recheck=move(old.next_recheck_due, new.next_recheck_due),
        verdict=(old.verdict, new.verdict) if old.verdict != new.verdict else None,
        alerts_added=tuple(sorted(new.alerts - old.alerts)),
        alerts_removed=tuple(sorted(old.alerts - new.alerts)),
    )


@dataclass
class Tally:
    """The counts over every patient compared: how many dates move which way, verdicts change,
    alerts appear or disappear (each alert of each patient once, also by rule)."""

    patients: int = 0
    changed: int = 0
    next_injection: Counter[str] = field(default_factory=Counter)
    next_recheck: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)  # "continue -> lifelong": patients
    alerts_added: Counter[str] = field(default_factory=Counter)  # rule: patients
    alerts_removed: Counter[str] = field(default_factory=Counter)

    def add(self, change: Change) -> None:
        self.patients += 1
        if not change:
            return
        self.changed += 1
        if change.next_injection:
            self.next_injection[change.next_injection] += 1
        if change.next_recheck:
            self.next_recheck[change.next_recheck] += 1
        if change.verdict:
            self.verdicts[" -> ".join(change.verdict)] += 1
        self.alerts_added.update(change.alerts_added)
        self.alerts_removed.update(change.alerts_removed)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON: every move named (zero included), so pages and commands print a fixed set."""
        return {
            "patients": self.patients,
            "changed": self.changed,
            "next_injection": {name: self.next_injection[name] for name in MOVES},
            "next_recheck": {name: self.next_recheck[name] for name in MOVES},
            "verdicts_changed": sum(self.verdicts.values()),
            "verdicts": dict(sorted(self.verdicts.items())),
            "alerts_appear": sum(self.alerts_added.values()),
            "alerts_disappear": sum(self.alerts_removed.values()),
            "alerts_added": dict(sorted(self.alerts_added.items())),
            "alerts_removed": dict(sorted(self.alerts_removed.items())),
        }
