"""B12 Clinic settings. Everything that differs between machines comes from the environment
(see the table in README.md); a bad value stops start-up with ImproperlyConfigured."""

from __future__ import annotations

import datetime
import zoneinfo
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from b12clinic.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime state (SQLite file, queued Celery messages, outgoing mail, collected static) lives here.
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)

# A fixed key is acceptable only for local development; production must bring its own. With DEBUG off
# a missing key stops the web app and every management command that runs system checks
# (b12clinic.startup), and anything else at its first signature; `evaluate_case` needs no secret.
_DEV_SECRET_KEY = "django-insecure-b12clinic-development-only-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET_KEY if DEBUG else "")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles so that runserver serves static files the way production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "b12clinic.apps.B12ClinicConfig",
    # The layers, bottom to top (README "Layout"; tests/test_layers.py guards the imports).
    "protocols",
    "patients",
    "audit",
    "care",
    "outreach",
    "reminders",
    "clinic",
    "exchange",
    "labs_in",
    "fhir_api",
    "demo",
    # Last: its post_migrate handler grants roles the permissions every app above has just created.
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "b12clinic.middleware.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "audit.middleware.AccessLogMiddleware",
    # Last: it locks out after the failures the authentication above reported.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "b12clinic.urls"
WSGI_APPLICATION = "b12clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "b12clinic.context_processors.clinic",
            ],
        },
    },
]

# Database ------------------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'b12clinic.sqlite3'}"),
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web app, the worker and beat share one file: WAL lets readers run beside a writer, IMMEDIATE
    # takes the write lock at BEGIN (no upgrade deadlocks) and busy_timeout waits instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Authentication ------------------------------------------------------------------------------------
# At least 12 characters; Django's bundled list of 20,000 passwords common in breaches (offline); not
# like the user's name; not all digits; and none of the clinic's own words.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.passwords.ClinicWordsValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: it refuses a locked-out user or address before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.ModelBackendOneQuery",  # ModelBackend, its permissions in one query
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Multi-factor authentication (django-otp: TOTP apps and one-time recovery codes). Required whenever
# DEBUG is off; `make run` (DEBUG on) leaves it off unless MFA_REQUIRED=1.
MFA_REQUIRED = env_bool("MFA_REQUIRED", not DEBUG)
OTP_TOTP_ISSUER = env_str("CLINIC_NAME", "B12 Clinic")
MFA_RECOVERY_CODES = 10

# Lockout (django-axes): AXES_FAILURE_LIMIT failures for one user from one address lock that pair
# for AXES_COOLOFF_MINUTES; every failure, lockout and unlock is logged.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "audit.addresses.client_address_for_axes"

# Sessions: ended when the browser closes, after SESSION_IDLE_MINUTES without a request (the page
# warns a minute before), and after 8 hours whatever happens.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = env_int("SESSION_ABSOLUTE_HOURS", 8) * 3600
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 15)

# The client address in the access log: behind a TLS proxy, the address it appends to this header
# (TRUSTED_PROXY_COUNT proxies in front of the app); without one, the connection's address.
TRUSTED_PROXY_HEADER = env_str("TRUSTED_PROXY_HEADER", "")
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1)

# Internationalisation and time ---------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("CLINIC_TIME_ZONE", "Europe/London")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"CLINIC_TIME_ZONE={TIME_ZONE!r} is not a known time zone (e.g. Europe/London)."
    ) from None
USE_I18N = True
USE_TZ = True

# Static files --------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start-up when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Email ---------------------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    # STARTTLS unless implicit TLS is asked for: mail to patients never crosses the network in clear.
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not EMAIL_USE_SSL)
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured("Set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL.")
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
else:
    # Nothing leaves the machine unless SMTP is configured: mail lands as files in var/mail.
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    EMAIL_FILE_PATH = VAR_DIR / "mail"
    EMAIL_FILE_PATH.mkdir(exist_ok=True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "B12 Clinic <clinic@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The clinic ----------------------------------------------------------------------------------------
CLINIC_NAME = env_str("CLINIC_NAME", "B12 Clinic")
# The name of the one clinic (site) a fresh database starts with (accounts.Clinic): a single-clinic
# install needs no set-up; a regional programme adds its other clinics in the admin.
DEFAULT_CLINIC_NAME = env_str("DEFAULT_CLINIC_NAME", CLINIC_NAME)
CLINIC_PHONE = env_str("CLINIC_PHONE", "")
CLINIC_EMAIL = env_str("CLINIC_EMAIL", "")
CLINIC_ADDRESS = env_str("CLINIC_ADDRESS", "")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Reminders and digests name the clinic with this (also as the sender's name, at DEFAULT_FROM_EMAIL's
# address), not CLINIC_NAME: a name such as "B12 Clinic" would tell anyone who sees the inbox what
# the patient is treated for (minimum necessary).
CLINIC_EMAIL_NAME = env_str("CLINIC_EMAIL_NAME", "Your clinic")

# Celery --------------------------------------------------------------------------------------------
# A cache the web app and the Celery workers share: the register import's progress bar reads what the
# worker writes there (its rows are not visible in the database before the import's one commit).
if env_str("REDIS_URL", ""):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("REDIS_URL")}}
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": VAR_DIR / "cache"}
    }

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", env_str("REDIS_URL", "filesystem://"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    # An embedded broker that needs no server: messages are files under var/celery.
    _celery_dir = VAR_DIR / "celery"
    for _folder in ("queue", "processed", "control"):
        (_celery_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "store_processed": False,
        # Exchange bindings; kombu's default is ./control, relative to wherever the process started.
        "control_folder": str(_celery_dir / "control"),
    }
    # Remote control (celery inspect/ping) stays off on the embedded broker: nothing here needs it, and
    # every worker would otherwise keep polling broadcast files.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Time limits: a default, and each task's own here (not in the code), so an operator can change them.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
# A send: the SMTP exchange (EMAIL_TIMEOUT, 10 s by default, ends a hung one), then recording the result,
# retried for up to REMINDER_RECORD_RETRY_SECONDS while the database is unreachable.
SEND_TASK_SOFT_TIME_LIMIT = env_int("SEND_TASK_SOFT_TIME_LIMIT", 75)
SEND_TASK_TIME_LIMIT = env_int("SEND_TASK_TIME_LIMIT", 90)
# Rows one send task claims and sends over one SMTP session (the scan queues one task per this many).
SEND_BATCH_SIZE = env_int("SEND_BATCH_SIZE", 100)
if SEND_BATCH_SIZE < 1:
    raise ImproperlyConfigured("SEND_BATCH_SIZE must be at least 1.")
SCAN_TASK_SOFT_TIME_LIMIT = env_int("SCAN_TASK_SOFT_TIME_LIMIT", 120)
SCAN_TASK_TIME_LIMIT = env_int("SCAN_TASK_TIME_LIMIT", 180)
# The daily re-evaluation of every active patient (100,000 take about two minutes).
REFRESH_TASK_SOFT_TIME_LIMIT = env_int("REFRESH_TASK_SOFT_TIME_LIMIT", 20 * 60)
REFRESH_TASK_TIME_LIMIT = env_int("REFRESH_TASK_TIME_LIMIT", 25 * 60)
_SEND_LIMITS = {"soft_time_limit": SEND_TASK_SOFT_TIME_LIMIT, "time_limit": SEND_TASK_TIME_LIMIT}
CELERY_TASK_ANNOTATIONS = {
    "reminders.tasks.send_reminder": _SEND_LIMITS,
    "reminders.tasks.send_staff_digest": _SEND_LIMITS,
    "reminders.tasks.send_batch": _SEND_LIMITS,
    "reminders.tasks.scan_reminders": {
        "soft_time_limit": SCAN_TASK_SOFT_TIME_LIMIT,
        "time_limit": SCAN_TASK_TIME_LIMIT,
    },
    "care.tasks.refresh_stale_care_statuses": {
        "soft_time_limit": REFRESH_TASK_SOFT_TIME_LIMIT,
        "time_limit": REFRESH_TASK_TIME_LIMIT,
    },
}
CELERY_TIMEZONE = TIME_ZONE

# The reminder outbox under faults (reminders/outbox.py); seconds.
# After the SMTP server accepted a message, recording "sent" is retried this long (reconnecting) before
# the worker gives up and logs "sent, not recorded".
REMINDER_RECORD_RETRY_SECONDS = env_int("REMINDER_RECORD_RETRY_SECONDS", 30)
# A row queued this long and never taken (its message was lost with the broker) is queued again.
# Follows the send task's hard limit: a task taken is finished or killed well within it.
REMINDER_STUCK_AFTER = env_int("REMINDER_STUCK_AFTER", 2 * SEND_TASK_TIME_LIMIT)
# A row left in `sending` this long was handed to the SMTP server and never recorded (a worker killed, or
# its database lost for longer than the record retry): the email may have gone, so it is sent again only
# after this longer wait, and its history says so.
REMINDER_UNCONFIRMED_AFTER = env_int("REMINDER_UNCONFIRMED_AFTER", 30 * 60)
if SEND_TASK_SOFT_TIME_LIMIT <= REMINDER_RECORD_RETRY_SECONDS:
    raise ImproperlyConfigured("SEND_TASK_SOFT_TIME_LIMIT must exceed REMINDER_RECORD_RETRY_SECONDS.")
if REMINDER_STUCK_AFTER <= SEND_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("REMINDER_STUCK_AFTER must exceed SEND_TASK_TIME_LIMIT.")
if REMINDER_UNCONFIRMED_AFTER < REMINDER_STUCK_AFTER:
    raise ImproperlyConfigured("REMINDER_UNCONFIRMED_AFTER must be at least REMINDER_STUCK_AFTER.")
# One beat only, a static schedule, short periodic scans; never long ETA/countdown tasks.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Catches up on the day's re-evaluation (overdue alerts) within 15 minutes of midnight, or of a restart.
    "refresh-stale-care-statuses": {"task": "care.tasks.refresh_stale_care_statuses", "schedule": 15 * 60},
    # Creates due reminder rows and, from the clinic's digest hour (reminder settings), the day's staff
    # digests; hands pending rows to the workers, requeues stuck ones (reminders/).
    "reminders-scan": {"task": "reminders.tasks.scan_reminders", "schedule": 5 * 60},
    # Booked appointments whose day passed without the visit become missed (outreach list), within 15
    # minutes of each clinic's midnight.
    "mark-missed-appointments": {"task": "clinic.tasks.mark_missed_appointments", "schedule": 15 * 60},
    # Deletes the files of FHIR bulk exports older than FHIR_EXPORT_KEEP_HOURS (fhir_api/).
    "fhir-exports-expire": {"task": "fhir_api.tasks.expire_exports", "schedule": 60 * 60},
}

# Security ------------------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Content-Security-Policy (django-csp): everything from this origin, no inline script or style, no
# framing, forms only to this origin. Enforced, never report-only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
if not DEBUG:
    # Cookies only over HTTPS, bound to this host and path (the __Host- prefix).
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # django-axes logs every login at INFO; the access log already records them.
    "loggers": {"axes": {"level": "WARNING"}},
}

# The admin shows each record's history; reverting from it would skip the services' checks.
SIMPLE_HISTORY_REVERT_DISABLED = True


# Lab results in (labs_in, README "Lab results in"): the MLLP listener's address, the drop folder, the
# clinic the interface serves (a clinic's slug; blank: every clinic) and the account results are
# entered by (made on first use; it cannot log in).
HL7_HOST = env_str("HL7_HOST", "127.0.0.1")
HL7_PORT = env_int("HL7_PORT", 2575)
HL7_DROP_FOLDER = env_str("HL7_DROP_FOLDER", str(VAR_DIR / "hl7-in"))
HL7_CLINIC = env_str("HL7_CLINIC", "")
LAB_INTERFACE_USERNAME = env_str("LAB_INTERFACE_USERNAME", "lab-interface")

# The FHIR API (fhir_api; README "FHIR API"). The system of the record number in Patient.identifier
# (set it to the one your region assigns to the clinic's record numbers), how long a new API token
# lasts, and where bulk exports write their NDJSON files (deleted with the export).
FHIR_MRN_SYSTEM = env_str("FHIR_MRN_SYSTEM", "urn:b12clinic:mrn")
FHIR_TOKEN_DAYS = env_int("FHIR_TOKEN_DAYS", 90)
FHIR_EXPORT_DIR = Path(env_str("FHIR_EXPORT_DIR", str(VAR_DIR / "fhir-export")))
FHIR_EXPORT_KEEP_HOURS = env_int("FHIR_EXPORT_KEEP_HOURS", 24)
