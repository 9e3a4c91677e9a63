"""Forms of the nurse's pages. They only parse what was typed; the services decide what is allowed
and their field-named refusals are put back on the form (`add_service_errors`), with the input kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from patients import plausibility
from patients.models import Drug, MedicationName, Route, Site
from protocols.engine import units

DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def add_service_errors(form: forms.Form, error: ValidationError, rename: Mapping[str, str] | None = None) -> None:
    """Show a service's ValidationError next to the fields it names (others at the top of the form)."""
    rename = rename or {}
    messages = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
    for name, texts in messages.items():
        target = rename.get(name, name)
        form.add_error(target if target in form.fields else None, texts)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class DigitsIntegerField(forms.IntegerField):
    """A whole number written with the ASCII digits 0-9 only: Python's int() would read "٣٠٠" as 300."""

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and value.strip():
            problem = plausibility.number_problem(value)
            if problem:
                raise ValidationError(problem, code="invalid")
        return super().to_python(value)


def _notes() -> forms.CharField:
    return forms.CharField(required=False, max_length=plausibility.NOTES_MAX, widget=forms.Textarea(attrs={"rows": 2}))


def _reason(label: str) -> forms.CharField:
    return forms.CharField(label=label, max_length=plausibility.NOTES_MAX, widget=forms.Textarea(attrs={"rows": 2}))


@dataclass(frozen=True)
class Confirmation:
    """A soft warning as the form shows it: beside `field` (or at the top), with a checkbox."""

    code: str
    field: str
    message: str
    checked: bool


class ConfirmableForm(forms.Form):
    """A form whose service may answer NeedsConfirmation: each warning is shown beside its field with
    a checkbox (name "confirm", value the warning's code); what was typed stays in the form, and the
    ticked codes go back to the service as `confirmed`."""

    TOP = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.confirmations: list[Confirmation] = []

    @property
    def confirmed(self) -> list[str]:
        if not self.is_bound or not hasattr(self.data, "getlist"):
            return []
        return [code for code in self.data.getlist("confirm") if code in plausibility.CODES]

    def ask(self, error: plausibility.NeedsConfirmation, rename: Mapping[str, str] | None = None) -> None:
        rename = rename or {}
        ticked = set(self.confirmed)
        self.confirmations = []
        for warning in error.warnings:
            field = rename.get(warning.field, warning.field)
            self.confirmations.append(
                Confirmation(
                    warning.code, field if field in self.fields else self.TOP, warning.message, warning.code in ticked
                )
            )

    @property
    def top_confirmations(self) -> list[Confirmation]:
        return [c for c in self.confirmations if c.field == self.TOP]


class InjectionForm(ConfirmableForm):
    given_at = forms.DateTimeField(
        label="Given at", widget=DateTimeInput(), input_formats=DATETIME_INPUT_FORMATS, help_text="Clinic time."
    )
    drug = forms.ChoiceField(choices=Drug.choices)
    dose_mcg = DigitsIntegerField(
        label="Dose (mcg)", min_value=1, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    route = forms.ChoiceField(choices=Route.choices)
    site = forms.ChoiceField(choices=Site.choices)
    lot_number = forms.CharField(label="Lot number", max_length=50)
    lot_expiry = forms.DateField(label="Lot expiry", widget=DateInput())
    notes = _notes()
    submission_key = forms.UUIDField(widget=forms.HiddenInput())


class InjectionCorrectForm(InjectionForm):
    """The injection's fields as recorded, and why they are corrected."""

    submission_key = None  # type: ignore[assignment]
    reason = _reason("Reason for the correction")


class LabResultForm(ConfirmableForm):
    analyte = forms.ChoiceField(choices=units.ANALYTE_CHOICES)
    # Kept as text so the service's own message ("'abc' is not a number") reaches the nurse.
    value = forms.CharField(max_length=32, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    unit = forms.ChoiceField(choices=[(symbol, symbol) for symbol in units.ALL_UNIT_SYMBOLS])
    collected_on = forms.DateField(label="Collected on", widget=DateInput())
    notes = _notes()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any known unit passes the form (the service names the units an analyte takes); the list
        # offers only the units of the chosen analyte, and lab_units.js keeps it so when it changes.
        analyte_code = self["analyte"].value() or units.ANALYTE_CHOICES[0][0]
        found = units.ANALYTES.get(str(analyte_code))
        if found is not None:
            self.fields["unit"].widget.choices = [(s, s) for s in found.unit_symbols]


def analyte_units_json() -> dict[str, Any]:
    """Each analyte's units and factors for lab_units.js (passed with json_script)."""
    return {
        code: {
            "canonical": analyte.canonical,
            "units": [
                {"symbol": u.symbol, "multiply": str(u.multiply), "divide": str(u.divide)} for u in analyte.units
            ],
        }
        for code, analyte in units.ANALYTES.items()
    }


class LabResultCorrectForm(LabResultForm):
    """A lab result's value, unit and date as recorded, and why they are corrected (the analyte stays)."""

    analyte = forms.ChoiceField(choices=units.ANALYTE_CHOICES, disabled=True)
    notes = None  # type: ignore[assignment]
    reason = _reason("Reason for the correction")


class VoidForm(forms.Form):
    reason = _reason("Why was it entered in error?")


class SymptomCheckForm(forms.Form):
    checked_on = forms.DateField(label="Checked on", widget=DateInput())
    neurological = forms.BooleanField(
        label="Neurological symptoms (paresthesia, numbness, gait or cognitive trouble)", required=False
    )
    depression = forms.BooleanField(label="Depressive symptoms", required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class MedicationStartForm(forms.Form):
    name = forms.ChoiceField(label="Medication", choices=MedicationName.choices)
    detail = forms.CharField(required=False, label="Detail (which medication, dose)")
    start = forms.DateField(label="Started on", widget=DateInput())


class MedicationStopForm(forms.Form):
    stop = forms.DateField(label="Stopped on", widget=DateInput())
