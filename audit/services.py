from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from audit.models import ChartView
from patients.models import Patient


def chart_view_log(
    *,
    user: AbstractBaseUser,
    patient: Patient,
    ip_address: str | None = None,
    now: datetime.datetime | None = None,
) -> ChartView:
    """Record that `user` opened `patient`'s chart."""
    return ChartView.objects.create(
        user=user, patient=patient, ip_address=ip_address or None, viewed_at=now or timezone.now()
    )
