from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def clinic(request: HttpRequest) -> dict[str, object]:
    """The clinic's name and contact details for every template, and the idle timeout for the warning."""
    return {
        "CLINIC_NAME": settings.CLINIC_NAME,
        "CLINIC_PHONE": settings.CLINIC_PHONE,
        "CLINIC_EMAIL": settings.CLINIC_EMAIL,
        "SESSION_IDLE_SECONDS": settings.SESSION_IDLE_MINUTES * 60,
    }
