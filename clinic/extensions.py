"""Places on the clinic's pages that apps above this floor fill, without the clinic importing them:
an app registers in its AppConfig.ready(), the page asks here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse

from patients.selectors import Clinics


@dataclass(frozen=True)
class DashboardCount:
    label: str  # "unmatched lab result", pluralised with an s
    url_name: str
    count: Callable[[Clinics], int]  # for the user's clinics (a queryset, or the clinics loaded)


@dataclass(frozen=True)
class CountShown:
    label: str
    url: str
    count: int


_DASHBOARD_COUNTS: dict[str, DashboardCount] = {}


def dashboard_count_register(count: DashboardCount) -> None:
    _DASHBOARD_COUNTS[count.url_name] = count


def dashboard_counts(*, clinics: Clinics) -> list[CountShown]:
    """The registered counts that are not zero, for these clinics."""
    shown = []
    for entry in _DASHBOARD_COUNTS.values():
        number = entry.count(clinics)
        if number:
            label = entry.label if number == 1 else f"{entry.label}s"
            shown.append(CountShown(label=label, url=reverse(entry.url_name), count=number))
    return shown
