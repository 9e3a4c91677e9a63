"""The one access check of every clinical page: a role that sees patients (403), then the patient
among the user's clinics (404), then the page's own permission (403).

Checking the role before looking the patient up means a user without one learns nothing, not even
whether a record number exists. A patient of a clinic the user may not see
(accounts.clinics.clinics_of) is a 404 like one that does not exist, whatever the page: never a 403,
so nobody can probe for records of another clinic. Only for a patient of their own clinics does a
user learn that their role forbids a page.
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
    require(user, VIEW_PATIENT)
    patients = queryset if queryset is not None else Patient.objects.all()
    try:
        patient = patients.filter(clinic__in=clinics_of(user)).get(pk=patient_id)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
    require(user, permission)
    return patient
