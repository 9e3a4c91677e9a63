"""The one place the register import meets clinics (sites): which clinic the rows go into."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from accounts.clinics import clinics_of
from accounts.models import Clinic


def clinic_for(name: str | None, *, user: Any = None) -> Clinic:
    """The clinic named `name` (by name or slug, any case) that `user` may import into; with no name,
    the only such clinic. LookupError, with what to give instead, otherwise. Without a user (a command
    run by an operator), every clinic is allowed."""
    allowed = clinics_of(user) if user is not None else Clinic.objects.all()
    names = ", ".join(allowed.values_list("name", flat=True)) or "none"
    if name and name.strip():
        found = allowed.filter(Q(name__iexact=name.strip()) | Q(slug__iexact=name.strip())).first()
        if found is None:
            raise LookupError(f"no clinic {name.strip()!r} to import into; the clinics are: {names}.")
        return found
    only = list(allowed[:2])
    if len(only) != 1:
        raise LookupError(f"name the clinic the patients belong to (--clinic): one of {names}.")
    return only[0]
