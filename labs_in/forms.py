from __future__ import annotations

from django import forms

from patients.forms import ConfirmableForm
from protocols.engine import units


class MatchForm(ConfirmableForm):
    mrn = forms.CharField(label="Record number of the patient", max_length=32)
    analyte = forms.ChoiceField(label="Analyte", choices=[("", "---"), *units.ANALYTE_CHOICES])
    unit = forms.CharField(label="Unit", max_length=16)


class RejectForm(forms.Form):
    reason = forms.CharField(label="Why reject it", max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
