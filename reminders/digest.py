"""The daily staff digest: one email a day per nurse and physician with what waits for them, sent
through the same outbox claim as the reminders. Its numbers are the pages' own (care.selectors)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts import roles
from accounts.clinics import clinics_of
from care import selectors as counts
from reminders import emails, selectors
from reminders.models import StaffDigest, Status
from reminders.outbox import ready
from reminders.sending import Outbound, Outcome, enqueue_batches_on_commit, register, send_batch


def _digest_recipients() -> models.QuerySet[AbstractBaseUser]:
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[roles.NURSE, roles.PHYSICIAN])
        .exclude(email="")
        .distinct()
    )


def staff_digests_create(*, now: datetime.datetime, enqueue: bool = True) -> list[int]:
    """Today's digest row for every nurse and physician with an email (once: unique per user and day),
    queued after commit; the ids of today's pending digests."""
    today = timezone.localdate(now)
    with transaction.atomic():
        StaffDigest.objects.bulk_create(
            [
                StaffDigest(user=user, date=today, next_attempt_at=now, created_at=now, updated_at=now)
                for user in _digest_recipients()
            ],
            ignore_conflicts=True,
        )
        ids = list(ready(StaffDigest, now).filter(date=today).order_by("pk").values_list("pk", flat=True))
        if enqueue:
            enqueue_batches_on_commit(StaffDigest, ids, now)
    return ids


def _site_url(name: str, fallback: str) -> str:
    """The absolute address of a named page (the staff pages' own app may not be installed)."""
    try:
        return settings.SITE_URL + reverse(name)
    except NoReverseMatch:
        return settings.SITE_URL + fallback


def staff_digest_email(digest: StaffDigest, today: datetime.date) -> EmailMultiAlternatives:
    """The digest of `digest.user`: the counts of the clinics they may see (their pages' own)."""
    user = digest.user
    clinics = clinics_of(user)
    nurse, physician = roles.is_nurse(user), roles.is_physician(user)
    context: dict[str, object] = {
        "name": user.get_full_name() or user.get_username(),
        "day": emails.format_day(today),
        "nurse": nurse,
        "physician": physician,
        "worklist_url": _site_url("worklist", "/worklist/"),
        "dashboard_url": _site_url("dashboard", "/dashboard/"),
        "reminders_url": settings.SITE_URL + reverse("reminders:list"),
        "failed_reminders": selectors.reminders_failed_count(clinics=clinics),
    }
    if nurse:
        context["worklist"] = counts.worklist_counts(today=today, clinics=clinics)
    if physician:
        context["dashboard"] = counts.dashboard_counts(today=today, clinics=clinics)
    return emails.build_email(template="staff_digest", context=context, to=user.email, message_id=digest.message_id)


NOT_TODAY = "not sent: another day, or the user has no email any more"


def _digest_stops(rows: Sequence[StaffDigest], now: datetime.datetime) -> dict[int, tuple[str, str]]:
    today = timezone.localdate(now)
    return {
        row.pk: (Status.CANCELLED, NOT_TODAY)
        for row in rows
        if row.date != today or not row.user.is_active or not row.user.email
    }


DIGESTS = register(
    Outbound(
        model=StaffDigest,
        build=lambda digest, now: staff_digest_email(digest, timezone.localdate(now)),
        load=lambda ids: StaffDigest.objects.select_related("user").filter(pk__in=ids),
        stops=_digest_stops,
    )
)


def staff_digest_send(*, digest_id: int, now: datetime.datetime) -> Outcome:
    """Send one day's digest at most once (the same batch path as reminders, a batch of one)."""
    return send_batch(DIGESTS, [digest_id], now)[digest_id]
