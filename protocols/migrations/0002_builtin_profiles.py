"""The two profiles of GUIDANCE.md, copied field by field from protocols.engine.profiles."""

from __future__ import annotations

from dataclasses import asdict

from django.db import migrations
from django.utils import timezone

from protocols.engine.profiles import BUILTIN_PROFILES


def create_builtin_profiles(apps, schema_editor):
    ProtocolProfile = apps.get_model("protocols", "ProtocolProfile")
    HistoricalProtocolProfile = apps.get_model("protocols", "HistoricalProtocolProfile")
    for profile in BUILTIN_PROFILES.values():
        values = asdict(profile)
        values["first_year_check_months"] = list(values["first_year_check_months"])
        slug = values.pop("slug")
        row, _ = ProtocolProfile.objects.update_or_create(slug=slug, defaults=values)
        # Version 1 gets its historical row too, so every version a care status names can be looked up.
        HistoricalProtocolProfile.objects.create(
            **{f.attname: getattr(row, f.attname) for f in ProtocolProfile._meta.concrete_fields},
            history_date=timezone.now(),
            history_type="+",
            history_change_reason="built-in profile of GUIDANCE.md",
        )


def delete_builtin_profiles(apps, schema_editor):
    ProtocolProfile = apps.get_model("protocols", "ProtocolProfile")
    ProtocolProfile.objects.filter(slug__in=list(BUILTIN_PROFILES)).delete()


class Migration(migrations.Migration):
    dependencies = [("protocols", "0001_initial")]

    operations = [migrations.RunPython(create_builtin_profiles, delete_builtin_profiles)]
