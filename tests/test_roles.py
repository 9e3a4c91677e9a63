"""Roles are groups with permissions; the services refuse physician-only actions to anyone else."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from accounts import roles
from clinic import actions
from patients import services as record
from patients.models import Cause, Patient, Regimen
from protocols.models import ProtocolProfile

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 1)

PHYSICIAN_ONLY: dict[str, Callable[[Patient, Any], object]] = {
    "set interval": lambda p, u: record.regimen_set_interval_override(regimen=p.regimen, months=2, reason="x", by=u),
    "clear interval": lambda p, u: record.regimen_clear_interval_override(regimen=p.regimen, by=u),
    "switch to oral": lambda p, u: record.regimen_switch_to_oral(regimen=p.regimen, since=TODAY, by=u, today=TODAY),
    "resume injections": lambda p, u: (
        record.regimen_switch_to_oral(regimen=p.regimen, since=TODAY, dose_mcg=1000, by=u, today=TODAY),
        record.regimen_resume_injections(regimen=p.regimen, by=u),
    ),
    "set profile": lambda p, u: actions.regimen_set_profile(
        regimen=p.regimen, profile=ProtocolProfile.objects.get(slug="hydroxocobalamin-3-monthly"), by=u
    ),
    "add cause": lambda p, u: actions.cause_add(patient=p, kind="dietary", by=u, today=TODAY),
    "update cause": lambda p, u: actions.cause_update(cause=p.causes.get(), data={"note": "x"}, by=u, today=TODAY),
    "remove cause": lambda p, u: actions.cause_remove(cause=p.causes.get(), by=u),
}


@pytest.fixture
def patient_with_cause(patient: Patient, physician) -> Patient:
    actions.cause_add(patient=patient, kind="pernicious_anemia", by=physician, today=TODAY)
    return patient


def _snapshot(patient: Patient) -> tuple:
    regimen = Regimen.objects.get(patient=patient)
    return (
        regimen.profile_id,
        regimen.maintenance_interval_months,
        regimen.oral_since,
        list(Cause.objects.filter(patient=patient).values_list("kind", "note")),
        Regimen.history.count(),
        Cause.history.count(),
    )


@pytest.mark.parametrize("action", PHYSICIAN_ONLY, ids=str)
@pytest.mark.parametrize("who", ["nurse", "stranger"])
def test_it_refuses_physician_actions_to_others(
    request: pytest.FixtureRequest, patient_with_cause: Patient, action: str, who: str
) -> None:
    user = request.getfixturevalue(who)
    before = _snapshot(patient_with_cause)
    with pytest.raises(PermissionDenied):
        PHYSICIAN_ONLY[action](patient_with_cause, user)
    assert _snapshot(patient_with_cause) == before


@pytest.mark.parametrize("action", PHYSICIAN_ONLY, ids=str)
@pytest.mark.parametrize("who", ["physician", "clinic_admin"])
def test_it_lets_physicians_and_admins_decide(
    request: pytest.FixtureRequest, patient_with_cause: Patient, action: str, who: str
) -> None:
    user = request.getfixturevalue(who)
    PHYSICIAN_ONLY[action](patient_with_cause, user)
    # The change is made, and the record's history names who made it.
    made = [m.history.filter(history_user=user).exists() for m in (Regimen, Cause)]
    assert any(made), f"{action} by {who} left no trace in the history"


@pytest.mark.parametrize(
    ("role", "permission", "granted"),
    [
        (roles.NURSE, "patients.view_patient", True),
        (roles.NURSE, "patients.add_injection", True),
        (roles.NURSE, "patients.add_labresult", True),
        (roles.NURSE, "patients.add_symptomcheck", True),
        (roles.NURSE, "patients.change_medication", True),
        (roles.NURSE, "patients.change_injection", True),  # corrections, entered in error
        (roles.NURSE, "patients.change_labresult", True),
        (roles.NURSE, "patients.delete_injection", False),  # nothing is deleted
        (roles.NURSE, "patients.change_regimen", False),
        (roles.NURSE, "patients.add_cause", False),
        (roles.NURSE, "patients.make_decision", False),
        (roles.NURSE, "auth.change_user", False),
        (roles.PHYSICIAN, "patients.add_injection", True),
        (roles.PHYSICIAN, "patients.change_regimen", True),
        (roles.PHYSICIAN, "patients.delete_cause", True),
        (roles.PHYSICIAN, "patients.make_decision", True),
        (roles.PHYSICIAN, "protocols.change_protocolprofile", False),
        (roles.PHYSICIAN, "auth.add_user", False),
        (roles.CLINIC_ADMIN, "patients.make_decision", True),
        (roles.CLINIC_ADMIN, "auth.add_user", True),
        (roles.CLINIC_ADMIN, "auth.change_group", True),
        (roles.CLINIC_ADMIN, "protocols.change_protocolprofile", True),
    ],
)
def test_it_grants_each_role_what_fits(role: str, permission: str, granted: bool, django_user_model) -> None:
    user = django_user_model.objects.create_user(username=f"u-{role}")
    user.groups.add(Group.objects.get(name=role))
    assert user.has_perm(permission) is granted


def test_it_tells_roles_apart(nurse, physician, stranger) -> None:
    assert (roles.is_nurse(nurse), roles.is_physician(nurse)) == (True, False)
    assert (roles.is_nurse(physician), roles.is_physician(physician)) == (False, True)
    assert (roles.is_nurse(stranger), roles.is_physician(stranger)) == (False, False)


@pytest.mark.django_db
def test_every_role_gets_the_permissions_of_later_apps_after_migrate() -> None:
    """accounts' post_migrate handler runs (it needs a models module) and reaches the clinic and
    reminders apps, whose permissions only exist once their migrations have run."""
    from django.contrib.auth.models import Group

    def perms(role: str) -> set[str]:
        group = Group.objects.get(name=role)
        return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}

    assert {"patients.view_decision", "reminders.view_reminder"} <= perms("nurse")
    assert "patients.add_decision" not in perms("nurse")
    assert "patients.add_decision" in perms("physician")
    assert {"reminders.change_remindersettings", "patients.view_decision"} <= perms("clinic_admin")


def test_the_backend_reads_the_permissions_django_would_in_one_query(django_assert_num_queries) -> None:
    """accounts.backends.ModelBackendOneQuery against Django's ModelBackend: the same permissions for a
    user with roles, one with a permission of their own besides, one with both at once, a superuser,
    an inactive user and one with nothing; one query, then none (cached for the request)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.backends import ModelBackend
    from django.contrib.auth.models import Permission

    from accounts.backends import ModelBackendOneQuery

    User = get_user_model()
    own = Permission.objects.get(codename="view_programme")
    both = User.objects.create_user("both")
    both.groups.add(*Group.objects.filter(name__in=[roles.NURSE, roles.PHYSICIAN]))
    both.user_permissions.add(own, Permission.objects.get(codename="add_patient"))  # one also a role's
    users = {
        "roles": User.objects.create_user("roles"),
        "own only": User.objects.create_user("own"),
        "both": both,
        "superuser": User.objects.create_superuser("root"),
        "inactive": User.objects.create_user("gone", is_active=False),
        "nothing": User.objects.create_user("none"),
    }
    users["roles"].groups.add(Group.objects.get(name=roles.CLINIC_ADMIN))
    users["own only"].user_permissions.add(own)
    for name, user in users.items():
        expected = ModelBackend().get_all_permissions(User.objects.get(pk=user.pk))
        fresh = User.objects.get(pk=user.pk)
        with django_assert_num_queries(0 if not fresh.is_active else 1):
            found = ModelBackendOneQuery().get_all_permissions(fresh)
        with django_assert_num_queries(0):
            assert ModelBackendOneQuery().has_perm(fresh, "patients.view_patient") == ("patients.view_patient" in found)
        assert found == expected, name
        assert bool(found) == (name not in ("inactive", "nothing")), name
