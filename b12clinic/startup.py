"""What every long-running process checks before it starts: the secret key that signs sessions,
CSRF tokens and reminder opt-out links must be set when DEBUG is off."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

MISSING_SECRET_KEY = "Set the environment variable SECRET_KEY (required when DEBUG is off)."


def require_secret_key() -> None:
    """Called by wsgi.py and asgi.py. (Celery swallows errors raised in its start-up signals; a worker
    without the key fails at its first signature instead: Django refuses to use an empty SECRET_KEY.)"""
    if not settings.DEBUG and not settings.SECRET_KEY:
        raise ImproperlyConfigured(MISSING_SECRET_KEY)


def check_secret_key(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    """The same rule as a system check, so runserver, migrate and `check` refuse to run without it."""
    if not settings.DEBUG and not settings.SECRET_KEY:
        return [checks.Error(MISSING_SECRET_KEY, id="b12clinic.E001")]
    return []


SITE_URL_NOT_HTTPS = "Set SITE_URL to the app's https:// address (links in emails use it) when DEBUG is off."


def check_site_url(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    """Links in reminders and digests start with SITE_URL: in production it must be the https address."""
    if not settings.DEBUG and not settings.SITE_URL.startswith("https://"):
        return [checks.Error(SITE_URL_NOT_HTTPS, id="b12clinic.E002")]
    return []
