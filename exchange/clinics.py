"""The one place the register import meets clinics (sites).

Wired when clinics land: `accounts.Clinic` and `Patient.clinic` are being built elsewhere. Until then
there is one clinic and no model for it, so `clinic_for` returns None and the import creates patients
exactly as the staff app does (`clinic.actions.patient_create`, which will default to the only clinic
when there is one). The integrator changes this function (look the clinic up by name among the user's
clinics, raise LookupError when there is none, and return it) and the importer passes a non-None
result on as `patient_create(clinic=...)` and scopes its look-up of existing patients to it.
"""

from __future__ import annotations

from typing import Any


def clinic_for(name: str | None, *, user: Any = None) -> Any | None:
    """The clinic named `name` (None: the only clinic) that `user` may import into; None for now."""
    return None
