from __future__ import annotations

from django import forms

from patients.forms import ConfirmableForm
from protocols.engine import units


class MatchForm(ConfirmableForm):
    mrn = forms.CharField(label="Record number of the patient", max_length=32)
    analyte = forms.ChoiceField(label="Analyte", choices=[("", "---"), *units.ANALYTE_CHOICES])
    unit = forms.CharField(label="Unit", max_length=16)
    confirm_identity = forms.BooleanField(
        label="This is the patient of the message: record it for them", required=False, widget=forms.HiddenInput()
    )

    def ask_identity(self, difference: str) -> None:
        """Shown only when the chosen patient's name or birth date is not the message's."""
        self.fields["confirm_identity"].widget = forms.CheckboxInput()
        self.add_error("confirm_identity", difference)


class RejectForm(forms.Form):
    reason = forms.CharField(label="Why reject it", max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
