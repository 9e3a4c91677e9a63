"""Reads for the protocol: profiles as the engine sees them, care statuses for dashboards."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal

from django.db import DatabaseError

from protocols.engine.profiles import BUILTIN_PROFILES, SETTING_NAMES, Profile
from protocols.models import ProtocolProfile, ProtocolProfileDraft

_PROFILE_FIELDS = tuple(field.name for field in dataclasses.fields(Profile))
_DEFAULTS = {field.name: field.default for field in dataclasses.fields(Profile)}


def profile_to_engine(row: ProtocolProfile) -> Profile:
    """The engine's frozen Profile for a database row (every setting, plus slug, name and version)."""
    values = {name: getattr(row, name) for name in _PROFILE_FIELDS}
    values["first_year_check_months"] = tuple(int(m) for m in (row.first_year_check_months or ()))
    return Profile(**values)


def engine_profiles() -> dict[str, Profile]:
    """Every profile in the database by slug; the built-in ones when the database has no profile table
    yet (so `evaluate_case` works on a fresh checkout before `migrate`)."""
    try:
        return {row.slug: profile_to_engine(row) for row in ProtocolProfile.objects.all()}
    except DatabaseError:
        return dict(BUILTIN_PROFILES)


def profile_from_settings(row: ProtocolProfile, values: Mapping[str, object]) -> Profile:
    """The engine's Profile that `values` (ProfileSettings.setting_values(), e.g. a draft's) would be
    once published as `row`'s next version."""
    settings = {name: values[name] for name in SETTING_NAMES}
    settings["first_year_check_months"] = tuple(int(m) for m in (values["first_year_check_months"] or ()))  # type: ignore[union-attr]
    for name, value in settings.items():
        if isinstance(_DEFAULTS.get(name), Decimal):
            settings[name] = Decimal(str(value))
    return Profile(slug=row.slug, name=row.name, version=row.version + 1, **settings)  # type: ignore[arg-type]


def draft_to_engine(draft: ProtocolProfileDraft) -> Profile:
    """The engine's Profile the draft would be once published."""
    return profile_from_settings(draft.profile, draft.setting_values())
