"""The one access check of every clinical page: permission first (403), then the patient (404).

Checking the permission before looking the patient up means a user without a role learns nothing,
not even whether a record number exists. A patient of a clinic the user may not see
(accounts.clinics.clinics_of) is a 404 like one that does not exist: never a 403, so nobody can probe
for records of another clinic.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from accounts.clinics import clinics_of
from patients.models import Patient

VIEW_PATIENT = "patients.view_patient"


def require(user: AbstractBaseUser | AnonymousUser, permission: str) -> None:
    if not user.has_perm(permission):
        raise PermissionDenied("Your role does not allow this.")


def patient_for(
    user: AbstractBaseUser | AnonymousUser,
    patient_id: int,
    *,
    permission: str = VIEW_PATIENT,
    queryset: QuerySet[Patient] | None = None,
) -> Patient:
    """The patient `user` may act on with `permission`; PermissionDenied (403) or Http404 (no such
    patient, or one of a clinic the user may not see)."""
    require(user, permission)
    patients = queryset if queryset is not None else Patient.objects.all()
    try:
        return patients.filter(clinic__in=clinics_of(user)).get(pk=patient_id)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
