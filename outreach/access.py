"""The access check of the outreach pages, for nurses and the call-centre role alike: the outreach
role first (403), then the patient or appointment among the user's clinics (404, never 403: nobody
probes for another clinic's records), then the page's own permission (403). Unlike
patients.access.patient_for it does not ask for patients.view_patient: the call centre sees a
patient's name, number and appointments, never the clinical record."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import Http404

from accounts import roles
from accounts.clinics import clinics_of
from outreach.models import Appointment
from patients.access import require
from patients.models import Patient


def outreach_patient_for(
    user: AbstractBaseUser | AnonymousUser, patient_id: int, *, permission: str = roles.WORK_OUTREACH
) -> Patient:
    require(user, roles.WORK_OUTREACH)
    try:
        patient = Patient.objects.select_related("clinic").get(pk=patient_id, clinic__in=clinics_of(user))
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None
    require(user, permission)
    return patient


def appointment_for(user: AbstractBaseUser | AnonymousUser, appointment_id: int, *, permission: str) -> Appointment:
    require(user, roles.WORK_OUTREACH)
    try:
        appointment = Appointment.objects.select_related("patient__clinic").get(
            pk=appointment_id, patient__clinic__in=clinics_of(user)
        )
    except Appointment.DoesNotExist:
        raise Http404("No such appointment.") from None
    require(user, permission)
    return appointment
