"""Forms of the nurse's pages. They only parse what was typed; the services decide what is allowed
and their field-named refusals are put back on the form (`add_service_errors`), with the input kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet

from accounts.models import Clinic
from patients import plausibility
from patients.models import (
    DRUG_KINDS,
    LENGTH_KINDS,
    CauseKind,
    DietaryIntake,
    DischargeReason,
    Drug,
    MedicationName,
    Pregnancy,
    Procedure,
    Route,
    Sex,
    Site,
)
from protocols.engine import units
from protocols.engine.profiles import DEFAULT_PROFILE_SLUG
from protocols.models import ProtocolProfile

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


# Registration and the patient's details ------------------------------------------------------------

NOTE_MAX = 2000
REASON_HELP = "Kept in the record's history."


def _reason_field(label: str = "Reason", required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=REASON_HELP,
    )


class PatientRegistrationForm(forms.Form):
    clinic = forms.ModelChoiceField(
        label="Clinic", queryset=Clinic.objects.none(), empty_label=None, help_text="Its staff see the patient."
    )
    mrn = forms.CharField(label="Medical record number (MRN)", max_length=32)
    given_name = forms.CharField(label="Given name", max_length=100)
    family_name = forms.CharField(label="Family name", max_length=100)
    birth_date = forms.DateField(label="Birth date", widget=DateInput())
    sex = forms.ChoiceField(choices=Sex.choices)
    email = forms.EmailField(required=False, max_length=254)
    phone = forms.CharField(required=False, max_length=32)
    email_reminders_consent = forms.BooleanField(label="Agrees to email reminders", required=False)
    profile = forms.ModelChoiceField(
        label="Protocol profile",
        queryset=ProtocolProfile.objects.none(),
        help_text="How the patient is treated; a physician may change it later.",
    )
    confirm_duplicate = forms.BooleanField(
        label="This is a different patient: register anyway", required=False, widget=forms.HiddenInput()
    )

    def __init__(self, *args: Any, clinics: QuerySet[Clinic], **kwargs: Any) -> None:
        """`clinics`: those the registering user may see (accounts.clinics.clinics_of); with one, the
        field is hidden and that clinic chosen."""
        super().__init__(*args, **kwargs)
        choices = list(clinics.order_by("name"))
        field = self.fields["clinic"]
        field.queryset = clinics
        self.only_clinic = choices[0] if len(choices) == 1 else None
        if self.only_clinic is not None:
            field.initial, field.required, field.widget = self.only_clinic.pk, False, forms.HiddenInput()
        elif not choices:
            field.help_text = "You are on the staff of no clinic yet: an administrator adds you to yours."
        profiles = ProtocolProfile.objects.filter(is_active=True).order_by("name")
        self.fields["profile"].queryset = profiles
        if not self.is_bound:
            self.fields["profile"].initial = profiles.filter(slug=DEFAULT_PROFILE_SLUG).first()

    def clean_clinic(self) -> Clinic | None:
        return self.cleaned_data.get("clinic") or self.only_clinic

    def ask_confirmation(self) -> None:
        """The checkbox is shown only beside the warning that asks for it."""
        self.fields["confirm_duplicate"].widget = forms.CheckboxInput()


class PatientContactForm(forms.Form):
    email = forms.EmailField(required=False, max_length=254)
    phone = forms.CharField(required=False, max_length=32)
    email_reminders_consent = forms.BooleanField(label="Agrees to email reminders", required=False)


class PatientClinicalForm(forms.Form):
    neurological_involvement = forms.BooleanField(label="Neurological involvement", required=False)
    pregnancy = forms.ChoiceField(choices=Pregnancy.choices)
    dietary_intake_adequate = forms.ChoiceField(label="Dietary B12 intake", choices=DietaryIntake.choices)
    reason = _reason_field()


class CauseForm(forms.Form):
    kind = forms.ChoiceField(label="Cause", choices=CauseKind.choices)
    length_cm = forms.IntegerField(
        label="Length of ileum (cm)", required=False, min_value=1, max_value=1000, help_text="Resected or involved."
    )
    procedure = forms.ChoiceField(label="Procedure", required=False, choices=[("", "---------"), *Procedure.choices])
    start = forms.DateField(label="Started on", required=False, widget=DateInput())
    stop = forms.DateField(label="Stopped on", required=False, widget=DateInput())
    note = forms.CharField(
        label="Description", required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )
    reason = _reason_field()

    # The fields each kind of cause takes (cause_form.js shows only these; the rest are sent empty).
    KIND_FIELDS: dict[str, tuple[str, ...]] = {
        **dict.fromkeys(LENGTH_KINDS, ("length_cm",)),
        CauseKind.BARIATRIC_SURGERY: ("procedure",),
        **dict.fromkeys(DRUG_KINDS, ("start", "stop")),
        CauseKind.OTHER: ("note",),
    }
    DETAIL_FIELDS = ("length_cm", "procedure", "start", "stop", "note")

    def __init__(self, *args: Any, fixed_kind: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if fixed_kind is not None:  # a cause's kind never changes: remove it and record a new one
            self.fields["kind"].disabled = True
            self.fields["kind"].initial = fixed_kind
        for name in self.DETAIL_FIELDS:
            kinds = [kind for kind, names in self.KIND_FIELDS.items() if name in names]
            self.fields[name].widget.attrs["data-kinds"] = " ".join(kinds)

    def details(self) -> dict[str, Any]:
        """The fields of the chosen kind; the others empty, whatever was typed before the kind changed."""
        data = self.cleaned_data
        wanted = self.KIND_FIELDS.get(data["kind"], ())
        empty = {"length_cm": None, "procedure": "", "start": None, "stop": None, "note": ""}
        return {
            name: (data[name] if name in wanted and data[name] not in (None, "") else empty[name]) for name in empty
        }


class CauseRemoveForm(forms.Form):
    reason = _reason_field()


class ProfileForm(forms.Form):
    profile = forms.ModelChoiceField(label="Protocol profile", queryset=ProtocolProfile.objects.none())
    reason = _reason_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["profile"].queryset = ProtocolProfile.objects.filter(is_active=True).order_by("name")


class DischargeForm(forms.Form):
    reason = forms.ChoiceField(label="Reason", choices=DischargeReason.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='Required for "Other"; e.g. where the care was transferred to.',
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("reason") == DischargeReason.OTHER and not (data.get("note") or "").strip():
            self.add_error("note", "Say why the patient is discharged.")
        return data


class TransferForm(forms.Form):
    clinic = forms.ModelChoiceField(label="To the clinic", queryset=Clinic.objects.none())
    reason = _reason_field()

    def __init__(self, *args: Any, clinics: QuerySet[Clinic], **kwargs: Any) -> None:
        """`clinics`: the clinics the patient may move to (the user's, but the patient's own)."""
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics.order_by("name")


class ReadmitForm(forms.Form):
    reason = _reason_field("Why is the patient re-admitted?")


# Lab panels ------------------------------------------------------------------------------------------


class LabPanelRow:
    """One analyte of the panel form: its bound fields and whether the protocol asks for it."""

    def __init__(self, form: LabPanelForm, code: str, to_draw: bool) -> None:
        self.code = code
        self.label = units.ANALYTES[code].label
        self.to_draw = to_draw
        self.value = form[f"{code}-value"]
        self.unit = form[f"{code}-unit"]
        self.not_drawn = form[f"{code}-not_drawn"]
        self.reason = form[f"{code}-reason"]

    @property
    def errors(self) -> list[str]:
        return [*self.value.errors, *self.unit.errors, *self.not_drawn.errors, *self.reason.errors]


class LabPanelForm(forms.Form):
    """Every lab of one draw: a row per analyte (value and unit, or "not drawn" and why). Rows left
    empty are not recorded: the labs they stand for stay on the worklist until they come in."""

    collected_on = forms.DateField(label="Collected on", widget=DateInput())
    notes = forms.CharField(required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, to_draw: list[str] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.to_draw = [code for code in to_draw if code in units.ANALYTES]
        self.codes = [*self.to_draw, *(code for code in units.ANALYTES if code not in self.to_draw)]
        for code in self.codes:
            analyte = units.ANALYTES[code]
            self.fields[f"{code}-value"] = forms.CharField(
                label=f"{analyte.label} value",
                required=False,
                max_length=32,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "data-analyte": code, "autocomplete": "off"}),
            )
            self.fields[f"{code}-unit"] = forms.ChoiceField(
                label=f"{analyte.label} unit",
                choices=[(symbol, symbol) for symbol in analyte.unit_symbols],
                initial=analyte.canonical,
                required=False,  # the canonical unit when none is sent
            )
            self.fields[f"{code}-not_drawn"] = forms.BooleanField(label="Not drawn", required=False)
            self.fields[f"{code}-reason"] = forms.CharField(
                label=f"Why was {analyte.label} not drawn?", required=False, max_length=500
            )

    def rows(self) -> list[LabPanelRow]:
        return [LabPanelRow(self, code, code in self.to_draw) for code in self.codes]

    @property
    def other_rows_used(self) -> bool:
        """Whether a row beyond the labs to draw was filled in (or refused): then they are shown open."""
        return any(row.errors or row.value.value() or row.not_drawn.value() for row in self.rows() if not row.to_draw)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for code in self.codes:
            value = (data.get(f"{code}-value") or "").strip()
            if value and not data.get(f"{code}-not_drawn"):
                # Parsed here too, so that every row's problem shows at once (the service checks again).
                try:
                    units.parse_value(value)
                except units.UnitError as error:
                    self.add_error(f"{code}-value", error.message)
            if data.get(f"{code}-not_drawn"):
                if value:
                    self.add_error(f"{code}-value", 'Either a value or "not drawn", not both.')
                if not (data.get(f"{code}-reason") or "").strip():
                    self.add_error(f"{code}-reason", "Say why it was not drawn.")
        return data

    def results(self) -> list[dict[str, str]]:
        data = self.cleaned_data
        return [
            {
                "analyte": code,
                "value": data[f"{code}-value"].strip(),
                "unit": data.get(f"{code}-unit") or units.ANALYTES[code].canonical,
            }
            for code in self.codes
            if (data.get(f"{code}-value") or "").strip() and not data.get(f"{code}-not_drawn")
        ]

    def not_drawn(self) -> list[dict[str, str]]:
        data = self.cleaned_data
        return [
            {"analyte": code, "reason": data[f"{code}-reason"]} for code in self.codes if data.get(f"{code}-not_drawn")
        ]

    @staticmethod
    def service_field(name: str) -> str:
        """lab_panel_record's "ferritin.value" is this form's "ferritin-value" ("not_drawn_reason": "reason")."""
        if "." not in name:
            return name
        code, field = name.split(".", 1)
        return f"{code}-{_PANEL_FIELDS.get(field, field)}"


_PANEL_FIELDS = {"not_drawn_reason": "reason", "analyte": "value"}
