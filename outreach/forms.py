"""The outreach pages' forms: a call's outcome, booking and changing an appointment, a clinic's
capacity. Dates and times are the clinic's local ones; the view makes them an aware datetime."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms

from outreach.models import AppointmentKind, ContactOutcome
from outreach.services import NOTE_MAX, OUTCOME_REQUIRED, REASON_REQUIRED, START_REQUIRED
from patients.forms import DateInput


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%H:%M")


class ContactAttemptForm(forms.Form):
    outcome = forms.ChoiceField(
        label="Outcome",
        choices=[("", "Outcome of the call…"), *ContactOutcome.choices],
        error_messages={"required": OUTCOME_REQUIRED},
    )
    note = forms.CharField(label="Note", required=False, max_length=NOTE_MAX)
    next_attempt_on = forms.DateField(label="Call again on", required=False, widget=DateInput())


class _When(forms.Form):
    day = forms.DateField(label="Day", widget=DateInput(), error_messages={"required": START_REQUIRED})
    time = forms.TimeField(label="Time", widget=TimeInput(), error_messages={"required": START_REQUIRED})

    def starts_at(self, zone: datetime.tzinfo) -> datetime.datetime:
        """The day and time at the clinic, as an aware datetime."""
        return datetime.datetime.combine(self.cleaned_data["day"], self.cleaned_data["time"], tzinfo=zone)


class AppointmentBookForm(_When):
    kind = forms.ChoiceField(label="For", choices=AppointmentKind.choices, widget=forms.RadioSelect)
    field_order = ["kind", "day", "time"]


class AppointmentRescheduleForm(_When):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": REASON_REQUIRED},
    )


class AppointmentCancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": REASON_REQUIRED},
    )
