"""Django settings, all read from the environment through django-environ.

Every setting is documented in .env.example and in README.md. The defaults are the
embedded ones: a SQLite file and a filesystem Celery broker under var/, so the back office
runs with no server. Production sets DEBUG off and real keys; a missing key is then a
system-check error that names it (see connector/checks.py), never a silent default.

With DEBUG off the defaults are production's: HTTPS only (redirect, HSTS, secure cookies),
no simulators installed, every task under a time limit, so `manage.py check --deploy` has
nothing to say. Importing this module writes nothing: the folders the embedded defaults need
(EMBEDDED_FOLDERS) are made when a process starts with them (connector.apps).
"""
import os
from pathlib import Path

import environ

from connector.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
DEBUG = env.bool("DEBUG", default=False)

# Development fallbacks exist only with DEBUG on; connector.checks refuses a production
# start without real values and names the missing setting.
DEV_SECRET_KEY = "dev-insecure-only-for-debug"
# A marker rather than "": Django refuses an empty key before our check could name it.
MISSING_SECRET_KEY = "missing-secret-key-set-SECRET_KEY"
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY if DEBUG else MISSING_SECRET_KEY)
# Fernet keys for credentials at rest, comma-separated, newest first. Encryption uses the
# first; decryption tries each, so a new key can be put in front and old data re-encrypted
# with `manage.py rotate_credentials`.
DEV_CREDENTIAL_KEY = "ZGV2LWluc2VjdXJlLWNyZWRlbnRpYWwta2V5LTAwMDA="
CREDENTIAL_KEYS = env.list("CREDENTIAL_KEYS", default=[DEV_CREDENTIAL_KEY] if DEBUG else [])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_object_actions",
    "connector",
    "tenants",
    "edi",
    "billing",
    "health_check",
    "console",
]
if DEBUG:
    # The simulators' `manage.py sandbox` command, for the demo. Tests and flows import the
    # simulators as modules; production has no use for them.
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# URLs machines post to (the Stripe webhook) are served with these middleware only: they read
# no session, user, message or CSRF token (connector/handlers.py, used by connector/wsgi.py).
WEBHOOK_PATH_PREFIX = "/stripe/webhooks/"
WEBHOOK_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]

ROOT_URLCONF = "connector.urls"
WSGI_APPLICATION = "connector.wsgi.application"

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
            ],
        },
    },
]

# Folders the embedded defaults write to; made at process start, only when in use.
EMBEDDED_FOLDERS: list[Path] = []

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    EMBEDDED_FOLDERS += [Path(DATABASES["default"]["NAME"]).parent, VAR_DIR]
    # Web, worker and beat share the file: WAL lets readers run beside one writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing half-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # A file, not :memory:, so a Celery worker started by a test can see the test data;
    # one per test process, so parallel runs in one checkout do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # A web worker keeps its connection between requests: a new PostgreSQL connection costs a
    # backend process, several milliseconds per webhook. The URL's ?conn_max_age= decides
    # when given (and ?conn_health_checks=true adds a check before each reuse).
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

REDIS_URL = env.str("REDIS_URL", default="")

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    EMBEDDED_FOLDERS += [BROKER_DIR / sub for sub in ("queue", "processed", "control")]
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Every task is stopped if it runs away: at the soft limit it is interrupted where it is (a
# cycle or document records the failure and lets its lock go), at the hard one the worker
# child is killed. A polling cycle normally takes seconds.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=1800)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=1860)

# How often each flow's polling task runs by default; editable per task in the admin.
SYNC_DEFAULT_INTERVAL_SECONDS = env.int("SYNC_DEFAULT_INTERVAL_SECONDS", default=300)
# How long a run or document lock lives without renewal; its holder renews it every third of
# that while it works, so a dead holder's lock frees within this many seconds.
LOCK_TTL_SECONDS = env.float("LOCK_TTL_SECONDS", default=30.0)

# JSON lines through structlog (plain, readable lines with DEBUG on); standard library
# logging goes through the same processors, which keep secrets and payloads out (connector/logs.py).
LOG_JSON = env.bool("LOG_JSON", default=not DEBUG)
LOGGING = logging_config(json=LOG_JSON, level=env.str("LOG_LEVEL", default="INFO"))
# Workers keep Django's logging (JSON lines) instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Alerts go out through Django's email backend; the demo (DEBUG) prints them on the console.
# The SMTP server, e.g. smtp+tls://user:password@mail.example.com:587 (EMAIL_HOST, EMAIL_PORT, …).
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend" if DEBUG
                        else "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ml-connector <alerts@localhost>")

# Where people reach the back office, for links in alerts (e.g. https://connector.example.com).
SITE_URL = env.str("SITE_URL", default="")

# /health/ reports beat as down when its heartbeat task has not run for this long.
HEALTH_BEAT_MAX_AGE_SECONDS = env.int("HEALTH_BEAT_MAX_AGE_SECONDS", default=300)
# Retention for tenants without their own policy (days; console.RetentionPolicy per tenant).
RETENTION_DEFAULT_DAYS = {
    "finished_payload": env.int("RETENTION_FINISHED_PAYLOAD_DAYS", default=90),
    "failed_payload": env.int("RETENTION_FAILED_PAYLOAD_DAYS", default=365),
    "attempts": env.int("RETENTION_ATTEMPT_DAYS", default=365),
    "sync_runs": env.int("RETENTION_SYNC_RUN_DAYS", default=90),
}
# Webhook deliveries refused before any endpoint was known (404, unknown endpoint) belong to
# no tenant, so no tenant's policy reaches them: their body and headers are cleared after the
# first period, the rows deleted after the second, longer one (days; billing.checks).
RETENTION_UNKNOWN_ENDPOINT_PAYLOAD_DAYS = env.int("RETENTION_UNKNOWN_ENDPOINT_PAYLOAD_DAYS", default=30)
RETENTION_UNKNOWN_ENDPOINT_ROW_DAYS = env.int("RETENTION_UNKNOWN_ENDPOINT_ROW_DAYS", default=180)

# Object actions (e.g. Replay) open a confirmation page with GET; the page's form POSTs.
DJANGO_OBJECT_ACTIONS_DEFAULT_HTTP_METHOD = "GET"

# HTTPS. Off DEBUG, every default is the strict one; each can be relaxed from the
# environment (the test run serves plain HTTP on loopback, see tests/pytest_env.py).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# Preload is opt-in: once browsers' preload lists hold the domain, taking it back takes months,
# so it is a decision for whoever owns the domain (and every subdomain), not a default. Django's
# check --deploy warns without it (security.W021): that warning is silenced while it is off.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Behind a proxy that terminates TLS: the header it sets to "https" (e.g. X-Forwarded-Proto).
# Set it only when the proxy always sets or overwrites that header.
_PROXY_SSL_HEADER = env.str("SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_").removeprefix("HTTP_"), "https") \
    if _PROXY_SSL_HEADER else None
