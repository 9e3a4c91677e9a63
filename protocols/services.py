"""Writes to the protocol profiles and their drafts. Re-evaluating the patients of a changed profile is
the application layer's job (clinic.actions.protocol_profile_publish and ..._draft_publish), which
calls these first. A draft is edited and previewed without being in force; applying it makes it the
profile's next version."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from protocols.engine.profiles import SETTING_NAMES
from protocols.models import ProtocolProfile, ProtocolProfileDraft


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


DRAFT_OUT_OF_DATE = (
    "The profile was changed (version {version}) after this draft was started from version {based_on}: "
    "discard the draft and start again."
)


@transaction.atomic
def protocol_profile_draft_start(*, profile: ProtocolProfile, by: AbstractBaseUser) -> ProtocolProfileDraft:
    """The profile's draft: the one being edited, or a new one with the settings in force."""
    profile = ProtocolProfile.objects.select_for_update().get(pk=profile.pk)
    draft = ProtocolProfileDraft.objects.filter(profile=profile).first()
    if draft is None:
        draft = ProtocolProfileDraft(profile=profile, based_on_version=profile.version, created_by=by)
        for name in SETTING_NAMES:
            setattr(draft, name, getattr(profile, name))
        draft.save()
    return draft


@transaction.atomic
def protocol_profile_draft_save(*, draft: ProtocolProfileDraft) -> ProtocolProfileDraft:
    """Keep a clinic admin's edit of a draft; nothing is in force until it is applied."""
    draft.full_clean()
    draft.save()
    return draft


@transaction.atomic
def protocol_profile_draft_discard(*, draft: ProtocolProfileDraft) -> None:
    draft.delete()


@transaction.atomic
def protocol_profile_draft_apply(*, draft: ProtocolProfileDraft) -> ProtocolProfile:
    """The draft's settings become the profile's next version; the draft is gone. Refused when the
    profile changed since the draft was started (its preview compared against another version)."""
    profile = ProtocolProfile.objects.select_for_update().get(pk=draft.profile_id)
    if profile.version != draft.based_on_version:
        raise ValidationError(
            {NON_FIELD_ERRORS: DRAFT_OUT_OF_DATE.format(version=profile.version, based_on=draft.based_on_version)}
        )
    draft.full_clean()
    for name in SETTING_NAMES:
        setattr(profile, name, getattr(draft, name))
    protocol_profile_save(profile=profile)
    draft.delete()
    return profile
