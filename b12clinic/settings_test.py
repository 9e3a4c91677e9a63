"""Settings for the test suite: the real settings with a fast hasher and plain static storage.

The database and broker still come from the environment, so CI runs the suite on PostgreSQL and Redis.
"""

from __future__ import annotations

import os

# Tests run with DEBUG off like production, which would otherwise demand a real SECRET_KEY.
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-used-anywhere-else-0123456789abcdef")

from b12clinic.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Test clients speak plain HTTP to "testserver".
SECURE_SSL_REDIRECT = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file rather than memory, so that the reminder tests' real Celery worker processes can open the
    # test database; one file per test run, so two runs at once do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
# The second factor is tested where it is the subject (tests/test_security.py turns it on); elsewhere
# tests log in with force_login, as a user who passed it would be.
MFA_REQUIRED = False
