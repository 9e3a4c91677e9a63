"""Reads for the protocol: profiles as the engine sees them, care statuses for dashboards."""

from __future__ import annotations

import dataclasses

from django.db import DatabaseError

from protocols.engine.profiles import BUILTIN_PROFILES, Profile
from protocols.models import ProtocolProfile

_PROFILE_FIELDS = tuple(field.name for field in dataclasses.fields(Profile))


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
