"""Reads of the unmatched-results queue, scoped to the user's clinics: a result with a patient by
the patient's clinic; one without by the clinic the receiving interface serves (every clinic's staff
when it serves them all)."""

from __future__ import annotations

from django.db.models import Exists, Q, QuerySet

from accounts.models import Clinic
from labs_in.models import ReceivedResult, ResultStatus
from patients.selectors import Clinics, clinic_ids


def _visible(clinics: Clinics) -> Q:
    """One condition, no query of its own (an interface serving every clinic: staff of any clinic).
    `clinics`: a queryset (a subquery), or the clinics already loaded (their ids)."""
    if isinstance(clinics, QuerySet):
        any_clinic: Q = Q(Exists(clinics.values("pk")))
    else:
        clinics = clinic_ids(clinics)
        any_clinic = Q(pk__isnull=False) if clinics else Q(pk__in=[])
    every_clinic = Q(message__clinic__isnull=True) & any_clinic
    return Q(patient__clinic__in=clinics) | (Q(patient__isnull=True) & (Q(message__clinic__in=clinics) | every_clinic))


def queue(*, clinics: QuerySet[Clinic], status: str = ResultStatus.PENDING) -> QuerySet[ReceivedResult]:
    return (
        ReceivedResult.objects.filter(_visible(clinics), status=status)
        .select_related("message", "patient", "decided_by")
        .order_by("message__received_at", "pk")
    )


def queue_count(*, clinics: Clinics) -> int:
    return ReceivedResult.objects.filter(_visible(clinics), status=ResultStatus.PENDING).count()


def queued_result(*, clinics: QuerySet[Clinic], result_id: int) -> ReceivedResult | None:
    return ReceivedResult.objects.filter(_visible(clinics), pk=result_id).select_related("message", "patient").first()
