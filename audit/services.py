"""Writing the access log. Pages say which patients they showed (`note_patients`); the middleware
writes one event per request; authentication events come from Django's and django-axes' signals."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, transaction
from django.http import HttpRequest

from audit.addresses import client_address
from audit.models import AccessedPatient, AccessEvent

NOTED = "_audit_patient_ids"


def note_patients(request: HttpRequest, patient_ids: Iterable[int]) -> None:
    """This response shows these patients' data (a list page, search results, a chart ...)."""
    noted: set[int] = getattr(request, NOTED, set())
    noted.update(pk for pk in patient_ids if pk is not None)
    setattr(request, NOTED, noted)


def noted_patients(request: HttpRequest) -> set[int]:
    return set(getattr(request, NOTED, set()))


@transaction.atomic
def access_event_log(
    *,
    kind: str,
    request: HttpRequest | None = None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    username: str = "",
    patient_ids: Iterable[int] = (),
    status_code: int | None = None,
    detail: str = "",
) -> AccessEvent:
    """One row of the access log (and one per patient it showed)."""
    if user is not None and not user.is_authenticated:
        user = None
    match = getattr(request, "resolver_match", None) if request is not None else None
    event = AccessEvent.objects.create(
        kind=kind,
        user=user,
        username=(user.get_username() if user is not None else username)[:150],
        ip_address=client_address(request) if request is not None else None,
        method=(getattr(request, "method", None) or "")[:10],
        path=(getattr(request, "path", None) or "")[:500],
        page=(match.view_name if match is not None else "")[:100],
        status_code=status_code,
        detail=detail[:300],
    )
    _accessed_patients_add(event.pk, sorted(set(patient_ids)))
    return event


def _accessed_patients_add(event_id: int, patient_ids: list[int]) -> None:
    """One row per patient the event showed, in one statement. Written by hand: a list page shows
    dozens of patients on every request, and building a model instance for each row cost more than
    the page's own queries (2 ms for the dashboard's 60, against 0.2 ms this way)."""
    if not patient_ids:
        return
    table = connection.ops.quote_name(AccessedPatient._meta.db_table)
    event, patient = (
        connection.ops.quote_name(AccessedPatient._meta.get_field(f).column) for f in ("event", "patient")
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} ({event}, {patient}) SELECT %s, unnest(%s::bigint[])", [event_id, patient_ids]
            )
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({event}, {patient}) VALUES (%s, %s)", [(event_id, pk) for pk in patient_ids]
            )
