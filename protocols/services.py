"""Writes to the protocol profiles. Re-evaluating the patients of a changed profile is the
application layer's job (clinic.actions.protocol_profile_publish), which calls this first."""

from __future__ import annotations

from django.db import transaction

from protocols.models import ProtocolProfile


@transaction.atomic
def protocol_profile_save(*, profile: ProtocolProfile) -> ProtocolProfile:
    """Save a clinic admin's change to a profile as a new version.

    The version goes up by one on every change; the historical row of each version is kept, so a
    stored care status always names the exact settings that produced it."""
    profile.full_clean()
    if profile.pk is not None:
        profile.version = ProtocolProfile.objects.select_for_update().get(pk=profile.pk).version + 1
    profile.save()
    return profile
