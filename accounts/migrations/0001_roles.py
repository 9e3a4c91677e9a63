"""The clinic's roles as groups with their permissions (accounts.roles says which)."""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations

from accounts.roles import ROLE_PERMISSIONS, grant_role_permissions


def _ensure_permissions(apps) -> None:
    # Permissions are normally created after all migrations ran (post_migrate); the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def create_roles(apps, schema_editor):
    _ensure_permissions(apps)
    grant_role_permissions(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def delete_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLE_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("patients", "0001_initial"),
        ("protocols", "0002_builtin_profiles"),
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
