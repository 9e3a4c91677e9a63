"""The physician's decision forms; the rules themselves are in clinic.actions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from care.models import CareAlert
from patients.forms import DateInput

REASON_HELP = "Kept with the decision in the patient's record."


def _reason() -> forms.CharField:
    return forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text=REASON_HELP)


class IntervalForm(forms.Form):
    months = forms.IntegerField(label="Maintenance interval (months)", min_value=1, max_value=12)
    reason = _reason()


class ReasonForm(forms.Form):
    reason = _reason()


class OralSwitchForm(forms.Form):
    since = forms.DateField(label="Oral therapy starts on", widget=DateInput())
    reason = _reason()


class AcknowledgeForm(forms.Form):
    alert_rule = forms.ChoiceField(label="Alert")
    reason = _reason()

    def __init__(self, *args: Any, alerts: Iterable[CareAlert] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["alert_rule"].choices = [(a.rule, f"{a.rule} ({a.severity_name}): {a.message}") for a in alerts]
