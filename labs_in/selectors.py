"""Reads of the unmatched-results queue, scoped to the user's clinics: a result with a patient by
the patient's clinic; one without by the clinic the receiving interface serves (every clinic's staff
when it serves them all)."""

from __future__ import annotations

from django.db.models import Exists, Q, QuerySet

from accounts.models import Clinic
from labs_in.models import ReceivedResult, ResultStatus


def _visible(clinics: QuerySet[Clinic]) -> Q:
    """One condition, no query of its own (an interface serving every clinic: staff of any clinic)."""
    every_clinic = Q(message__clinic__isnull=True) & Q(Exists(clinics.values("pk")))
    return Q(patient__clinic__in=clinics) | (Q(patient__isnull=True) & (Q(message__clinic__in=clinics) | every_clinic))


def queue(*, clinics: QuerySet[Clinic], status: str = ResultStatus.PENDING) -> QuerySet[ReceivedResult]:
    return (
        ReceivedResult.objects.filter(_visible(clinics), status=status)
        .select_related("message", "patient", "decided_by")
        .order_by("message__received_at", "pk")
    )


def queue_count(*, clinics: QuerySet[Clinic]) -> int:
    return ReceivedResult.objects.filter(_visible(clinics), status=ResultStatus.PENDING).count()


def queued_result(*, clinics: QuerySet[Clinic], result_id: int) -> ReceivedResult | None:
    return ReceivedResult.objects.filter(_visible(clinics), pk=result_id).select_related("message", "patient").first()
