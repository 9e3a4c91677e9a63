"""Forms of the nurse's pages. They only parse what was typed; the services decide what is allowed
and their field-named refusals are put back on the form (`add_service_errors`), with the input kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

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


class InjectionForm(forms.Form):
    given_at = forms.DateTimeField(
        label="Given at", widget=DateTimeInput(), input_formats=DATETIME_INPUT_FORMATS, help_text="Clinic time."
    )
    drug = forms.ChoiceField(choices=Drug.choices)
    dose_mcg = forms.IntegerField(label="Dose (mcg)", min_value=1)
    route = forms.ChoiceField(choices=Route.choices)
    site = forms.ChoiceField(choices=Site.choices)
    lot_number = forms.CharField(label="Lot number", max_length=50)
    lot_expiry = forms.DateField(label="Lot expiry", widget=DateInput())
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    confirm_early = forms.BooleanField(label="I confirm this early dose", required=False)
    submission_key = forms.UUIDField(widget=forms.HiddenInput())

    def __init__(self, *args: Any, ask_confirmation: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not ask_confirmation:
            self.hide_confirmation()

    def hide_confirmation(self) -> None:
        """The early-dose checkbox is shown only beside the warning that asks for it."""
        self.fields["confirm_early"].widget = forms.HiddenInput()


class LabResultForm(forms.Form):
    analyte = forms.ChoiceField(choices=units.ANALYTE_CHOICES)
    # Kept as text so the service's own message ("'abc' is not a number") reaches the nurse.
    value = forms.CharField(max_length=32, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    unit = forms.ChoiceField(choices=[(symbol, symbol) for symbol in units.ALL_UNIT_SYMBOLS])
    collected_on = forms.DateField(label="Collected on", widget=DateInput())
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

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
