"""The physician's decision forms; the rules themselves are in clinic.actions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from care.models import CareAlert
from patients.forms import DateInput
from patients.models import INTERVAL_DAYS_MAX, INTERVAL_DAYS_MIN, ORAL_DOSE_MAX_MCG, ORAL_DOSE_MIN_MCG

REASON_HELP = "Kept with the decision in the patient's record."


def _reason() -> forms.CharField:
    return forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text=REASON_HELP)


class IntervalForm(forms.Form):
    """SCHED-OVERRIDE: every N months (1 to 12) or every N days (3 to 90: weekly is 7, two-weekly 14)."""

    every = forms.IntegerField(
        label="Every",
        min_value=1,
        max_value=INTERVAL_DAYS_MAX,
        help_text=f"Weekly is 7 days, two-weekly 14: {INTERVAL_DAYS_MIN} to {INTERVAL_DAYS_MAX} days, or 1 to 12 months.",
    )
    unit = forms.ChoiceField(
        label="Unit", choices=[("days", "days"), ("months", "months")], initial="days", widget=forms.RadioSelect
    )
    reason = _reason()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        every, unit = data.get("every"), data.get("unit")
        if every is None or unit is None:
            return data
        if unit == "months" and not 1 <= every <= 12:
            self.add_error("every", "Give 1 to 12 months, or choose days for a shorter interval.")
        if unit == "days" and not INTERVAL_DAYS_MIN <= every <= INTERVAL_DAYS_MAX:
            self.add_error(
                "every", f"Give {INTERVAL_DAYS_MIN} to {INTERVAL_DAYS_MAX} days (weekly is 7, two-weekly 14)."
            )
        return data


def interval_arguments(data: dict[str, Any]) -> dict[str, Any]:
    """The decision's arguments from IntervalForm: months=N or days=N."""
    return {data["unit"]: data["every"], "reason": data["reason"]}


class RecheckDateForm(forms.Form):
    on = forms.DateField(label="Next recheck on", widget=DateInput())
    reason = _reason()


class ReasonForm(forms.Form):
    reason = _reason()


class OralSwitchForm(forms.Form):
    since = forms.DateField(label="Oral therapy starts on", widget=DateInput())
    dose_mcg = forms.IntegerField(
        label="Daily oral dose (mcg)",
        min_value=ORAL_DOSE_MIN_MCG,
        max_value=ORAL_DOSE_MAX_MCG,
        initial=ORAL_DOSE_MIN_MCG,
        help_text=f"{ORAL_DOSE_MIN_MCG} to {ORAL_DOSE_MAX_MCG} mcg a day.",
    )
    recheck_on = forms.DateField(
        label="First recheck on (optional)",
        required=False,
        widget=DateInput(),
        help_text="Leave empty for the protocol's recheck, 12 months after the switch.",
    )
    reason = _reason()


class AcknowledgeForm(forms.Form):
    alert_rule = forms.ChoiceField(label="Alert")
    reason = _reason()

    def __init__(self, *args: Any, alerts: Iterable[CareAlert] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["alert_rule"].choices = [(a.rule, f"{a.rule} ({a.severity_name}): {a.message}") for a in alerts]
