"""The clinic's roles. A role is a Django group; what a role may do is its group's permissions
(granted by accounts/migrations/0001_roles.py), so code asks `user.has_perm(...)`, not the role name."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q

NURSE = "nurse"
PHYSICIAN = "physician"
CLINIC_ADMIN = "clinic_admin"
# A regional programme's view: every clinic's counts side by side, no patient names or records.
PROGRAMME = "programme"
# Calls overdue patients back to care: the outreach list with phone numbers, contact attempts and
# appointments; no clinical record (every chart page is a 403), no decisions.
CALL_CENTRE = "call_centre"
ROLES = (NURSE, PHYSICIAN, CLINIC_ADMIN, PROGRAMME, CALL_CENTRE)

# Permissions the services check server-side.
MAKE_DECISION = "patients.make_decision"
CHANGE_REGIMEN = "patients.change_regimen"
ADD_CAUSE = "patients.add_cause"
CHANGE_CAUSE = "patients.change_cause"
DELETE_CAUSE = "patients.delete_cause"
CHANGE_PROFILE = "protocols.change_protocolprofile"  # edit, preview and publish a protocol profile
CHANGE_INJECTION = "patients.change_injection"  # correct, or mark entered in error
CHANGE_LABRESULT = "patients.change_labresult"
TRANSFER_PATIENT = "patients.transfer_patient"  # to another clinic, with a reason
VIEW_PROGRAMME = "accounts.view_programme"
IMPORT_REGISTER = "exchange.import_register"  # the register import and the whole-clinic export
WORK_OUTREACH = "outreach.work_outreach"  # the outreach list: patients to call, with phone numbers
VIEW_OUTREACH_MEASURES = "outreach.view_outreach_measures"  # counts per clinic and month, no patient
VIEW_APPOINTMENT = "outreach.view_appointment"  # a clinic's day of appointments
# The FHIR API (fhir_api): reading records with a token (physicians, clinic admins), and posting lab
# results to it (clinic admins; give it to a laboratory's account by hand, not to a role, as needed).
USE_API = "fhir_api.use_api"
POST_RESULTS = "fhir_api.post_results"

# (app_label, codename) per role; each role also has everything of the roles above it.
_OUTREACH_PERMISSIONS = [
    ("outreach", "work_outreach"),
    ("outreach", "view_outreach_measures"),
    ("outreach", "view_contactattempt"),
    ("outreach", "add_contactattempt"),
    ("outreach", "view_appointment"),
    ("outreach", "add_appointment"),
    ("outreach", "change_appointment"),  # reschedule, cancel
    ("outreach", "view_cliniccapacity"),
]
_NURSE_PERMISSIONS = [
    *_OUTREACH_PERMISSIONS,
    *[("patients", f"view_{m}") for m in ("patient", "cause", "regimen", "injection", "labresult")],
    *[("patients", f"view_{m}") for m in ("symptomcheck", "medication")],
    ("protocols", "view_protocolprofile"),
    ("patients", "add_patient"),
    ("patients", "change_patient"),
    ("patients", "add_injection"),
    ("patients", "change_injection"),
    ("patients", "add_labresult"),
    ("patients", "change_labresult"),
    ("patients", "add_symptomcheck"),
    ("patients", "add_medication"),
    ("patients", "change_medication"),
    ("patients", "view_decision"),
    *[("reminders", f"view_{m}") for m in ("reminder", "reminderevent")],
]
_PHYSICIAN_PERMISSIONS = [
    *_NURSE_PERMISSIONS,
    ("patients", "add_regimen"),
    ("patients", "change_regimen"),
    ("patients", "add_cause"),
    ("patients", "change_cause"),
    ("patients", "delete_cause"),
    ("patients", "make_decision"),
    ("patients", "add_decision"),
    ("patients", "transfer_patient"),
    ("fhir_api", "use_api"),
]
# clinic_admin gets every permission of these apps on top (see the migration).
CLINIC_ADMIN_APPS = ("patients", "protocols", "care", "reminders", "audit", "auth", "exchange")

ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    NURSE: _NURSE_PERMISSIONS,
    PHYSICIAN: _PHYSICIAN_PERMISSIONS,
    # ... and the LOINC codes the lab interface (labs_in) maps, which a clinic extends.
    CLINIC_ADMIN: [
        *_PHYSICIAN_PERMISSIONS,
        *[("labs_in", f"{verb}_loinccode") for verb in ("view", "add", "change", "delete")],
        # ... and the appointments a day each clinic takes.
        *[("outreach", f"{verb}_cliniccapacity") for verb in ("add", "change")],
        ("fhir_api", "post_results"),
    ],
    # No permission on any patient: every patient page answers 403.
    PROGRAMME: [("accounts", "view_programme"), ("outreach", "view_outreach_measures")],
    CALL_CENTRE: _OUTREACH_PERMISSIONS,
}


def grant_role_permissions(group_model: Any, permission_model: Any) -> None:
    """Create the role groups and grant each the permissions ROLE_PERMISSIONS gives it.

    Additive on purpose: it runs after every migrate (so a new model's permissions reach the roles)
    and must not undo what a clinic admin granted by hand. Takes the models so that migrations can
    pass their historical ones.
    """
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        query = Q(pk__in=[])
        for app_label, codename in wanted:
            query |= Q(content_type__app_label=app_label, codename=codename)
        if role == CLINIC_ADMIN:
            query |= Q(content_type__app_label__in=CLINIC_ADMIN_APPS)
        group.permissions.add(*permission_model.objects.filter(query))


def _in_group(user: AbstractBaseUser | AnonymousUser, name: str) -> bool:
    return bool(user.is_authenticated and user.groups.filter(name=name).exists())


def is_nurse(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _in_group(user, NURSE)


def is_physician(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _in_group(user, PHYSICIAN)


def is_clinic_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    return _in_group(user, CLINIC_ADMIN)
