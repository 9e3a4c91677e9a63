"""Authentication backend: Django's ModelBackend, with a user's permissions read in one query."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import Q


class ModelBackendOneQuery(ModelBackend):
    """ModelBackend, whose `get_all_permissions` reads the user's own permissions and their groups'
    in two queries (one each, then cached on the user for the request): here one query for both.
    Every page checks permissions (the view, then the menu), so every request paid for the second.
    The set is the same (tests/test_roles.py compares it with ModelBackend's for every kind of user);
    the per-kind methods (`get_user_permissions`, `get_group_permissions`) are Django's."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            permissions = Permission.objects.all()
            if not user_obj.is_superuser:
                # Two indexed subqueries of this user's rows (not an OR over joins of every user's
                # grants and memberships, which grows with the number of staff).
                own = user_obj.user_permissions.through.objects.filter(user_id=user_obj.pk)
                groups = Group.permissions.through.objects.filter(group__user=user_obj)
                permissions = permissions.filter(
                    Q(pk__in=own.values("permission_id")) | Q(pk__in=groups.values("permission_id"))
                )
            user_obj._perm_cache = {
                f"{app_label}.{codename}"
                for app_label, codename in permissions.values_list("content_type__app_label", "codename").order_by()
            }
        return user_obj._perm_cache
