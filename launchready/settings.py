"""Settings, all from the environment (django-environ); every variable is in .env.example.

Embedded default: with no DATABASE_URL the database is SQLite under var/, and with no
REDIS_URL audits run on a thread pool inside the web process (no broker needed).
"""

import ipaddress
import re
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)



def env_bool(name: str, default: bool) -> bool:
    """A boolean that is exactly true or false (any case); anything else stops the start-up,
    so a typo like ``DEBUG=Ture`` cannot silently mean False."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw not in ("true", "false"):
        raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")
    return raw == "true"


DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me-" + "x" * 32)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Fernet keys for the secrets the product stores (launchready/crypto.py): the first encrypts,
# all decrypt. Empty: one key derived from SECRET_KEY (development; `manage.py check` warns).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "projects",
    "checks",
    "handover",
    "rest_framework",  # the REST API (launchready/api/)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from static (no CDN)
    "axes",  # sign-in lock-out (launchready/security.py)
    "django_ratelimit",  # password-reset throttle (launchready/password_reset.py); its cache checks
    "django_otp",  # two-factor sign-in (launchready/twofactor/; its device: projects/totp_models.py)
    "csp",  # Content-Security-Policy with per-response nonces
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # before anything that answers, so every answer has the header
    "whitenoise.middleware.WhiteNoiseMiddleware",  # the admin's CSS under gunicorn
    # Before the session, CSRF and login: CsrfViewMiddleware reads request.POST, so an
    # oversized body is refused from its headers before anything reads it.
    "launchready.request_limits.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified()
    # request.agency (the agency chosen in the header); signs out someone removed from every agency
    "projects.current_agency.CurrentAgencyMiddleware",
    "launchready.twofactor.middleware.TwoFactorMiddleware",  # verify / set up before anything else
    "projects.audit_log.AuditLogMiddleware",  # one entry per change made by a person or an API key
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns a lock-out into its page
]

# Request body caps in bytes (launchready/request_limits.py, docs/security.md): the repository
# archive upload (25 MB) and the log sample page may send up to MAX_UPLOAD_REQUEST_BYTES, every
# other request MAX_REQUEST_BYTES. Django's own limits match: form fields in memory at most
# 2.5 MiB, an uploaded file kept in memory up to 2.5 MiB (larger ones go to a temporary file),
# at most 5 files per request (each form takes one).
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=2_621_440)
MAX_UPLOAD_REQUEST_BYTES = env.int("MAX_UPLOAD_REQUEST_BYTES", default=26_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FILES = 5

ROOT_URLCONF = "launchready.urls"

# The REST API (launchready/api/): each view sets its own authentication and permissions.
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
SPECTACULAR_SETTINGS = {
    "TITLE": "Launch Ready API",
    "DESCRIPTION": "Projects, audits, findings, monitors, deploys and handover PDFs of your agency. "
                   "Authenticate with an agency API key: Authorization: Bearer lr_…",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],  # the schema and docs hold no tenant data
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",  # operations are tagged by what follows: projects, audits
    "ENUM_NAME_OVERRIDES": {
        "AuditRunStateEnum": "checks.models.AuditRun.State",
        "MonitorStateEnum": "checks.models.Monitor.State",
        "FindingStatusEnum": "projects.models.Finding.Status",
        "CheckStatusEnum": "checks.models.STATUS_CHOICES",
    },
}
# Reverse proxies (CIDRs) whose X-Forwarded-For is believed for the client's address (the audit
# log). Empty: REMOTE_ADDR is the client, whatever a header says.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _network in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_network!r} is not a CIDR network") from None
WSGI_APPLICATION = "launchready.wsgi.application"

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
                "projects.current_agency.context",  # the header's agency menu
            ],
        },
    },
]

if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Parameters bound by the server, so psycopg prepares a query after its 5th run on a
        # connection: the panel repeats the same few queries (session, memberships, the page's
        # rows), and planning each again cost more than running it (0.5 ms vs 0.2 ms).
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("server_side_binding", True)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", default=str(VAR_DIR / "launchready.sqlite3")),
            # Audit threads write while the web reads: WAL and IMMEDIATE avoid lock errors.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Launch Ready <noreply@localhost>")
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT_S", default=10.0)  # seconds, per SMTP operation
# The panel's public address: links in mails (invites) are built on it, never on the Host
# header of the request (a client chooses that one).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL must start with http:// or https://, not {SITE_URL!r}")
# How long an invite link works, in hours.
INVITE_TTL_HOURS = env.int("INVITE_TTL_HOURS", default=72)
if INVITE_TTL_HOURS < 1:
    raise ImproperlyConfigured("INVITE_TTL_HOURS must be at least 1")

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- The panel's own launch bar (docs/security.md) ---
# HTTPS: HSTS (RFC 6797) on secure responses, for SECURE_HSTS_SECONDS; redirect plain HTTP to
# HTTPS; behind a TLS-terminating proxy, the header it sets to "https" (e.g. X-Forwarded-Proto;
# the proxy must overwrite it: a client can send it too).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
_proxy_header = env("SECURE_PROXY_SSL_HEADER", default="").strip()
if _proxy_header and not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", _proxy_header):
    raise ImproperlyConfigured(f"SECURE_PROXY_SSL_HEADER must be a header name, not {_proxy_header!r}")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https") if _proxy_header else None
)
# Content-Security-Policy (django-csp) on every answer: scripts and <style> elements only with
# the response's nonce ({{ request.csp_nonce }}); style="" attributes allowed (they cannot run
# script; the progress bars' widths are set that way); no framing (frame-ancestors, with
# X-Frame-Options DENY for browsers without CSP 2).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Sign-in lock-out (django-axes, launchready/security.py): LOGIN_FAILURE_LIMIT failures in a
# row for one username from one address pause that pair for LOGIN_COOLOFF_MINUTES (a new
# failure meanwhile starts the pause again); a success resets the count.
AUTHENTICATION_BACKENDS = [
    "launchready.security.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_COOLOFF_MINUTES = env.int("LOGIN_COOLOFF_MINUTES", default=15)
if AXES_FAILURE_LIMIT < 1 or LOGIN_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES must be at least 1")
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "launchready.security.client_ip"
AXES_LOCKOUT_CALLABLE = "launchready.security.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password"]  # masked in the attempts axes stores
# No table of every successful sign-in (address, browser): it would grow without bound and hold
# personal data no page reads; changes are in the audit log, failures in axes' attempts.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # its start-up banner would land in every command's output (audit --json)

# Password reset requests (launchready/password_reset.py, django-ratelimit): at most
# PASSWORD_RESET_RATE per client address and per typed address ("5/h": count / s, m, h or d).
PASSWORD_RESET_RATE = env("PASSWORD_RESET_RATE", default="5/h")
if not re.fullmatch(r"[1-9][0-9]*/[smhd]", PASSWORD_RESET_RATE):
    raise ImproperlyConfigured(f"PASSWORD_RESET_RATE must look like 5/h, not {PASSWORD_RESET_RATE!r}")
# Agency sign-up (projects/signup_views.py): SIGNUP_RATE per client address and per typed address,
# and how long the emailed confirmation link works.
SIGNUP_RATE = env("SIGNUP_RATE", default="5/h")
if not re.fullmatch(r"[1-9][0-9]*/[smhd]", SIGNUP_RATE):
    raise ImproperlyConfigured(f"SIGNUP_RATE must look like 5/h, not {SIGNUP_RATE!r}")
SIGNUP_CONFIRM_TTL_HOURS = env.int("SIGNUP_CONFIRM_TTL_HOURS", default=48)
if SIGNUP_CONFIRM_TTL_HOURS < 1:
    raise ImproperlyConfigured("SIGNUP_CONFIRM_TTL_HOURS must be at least 1")
RATELIMIT_IP_META_KEY = "launchready.security.client_ip"
# The throttle's counters: Redis when REDIS_URL is set (shared by every web process); else this
# process's memory (the embedded default runs one web process).
if env("REDIS_URL", default=""):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": env("REDIS_URL"), "KEY_PREFIX": "launchready"}}
    # Sessions stay in the database (Django's default), one indexed query a page: cached_db
    # was tried, and a sign-out made while Redis is unreachable left a copy there that signs
    # the cookie in again when Redis comes back (tests/attacks/test_panel_speed_attacks.py).
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS = [
    # django-ratelimit 4.1 lists only django-redis as supported; Django's own RedisCache (4.0+)
    # increments atomically (INCRBY) just the same.
    "django_ratelimit.W001",
    # Its "not a shared cache" for the embedded default: one web process, nothing to share with.
    *([] if env("REDIS_URL", default="") else ["django_ratelimit.E003"]),
]

# Two-factor sign-in (django-otp TOTP, launchready/twofactor/): the issuer name the app shows.
OTP_TOTP_ISSUER = env("TOTP_ISSUER", default="Launch Ready")

# Audits: Celery on Redis when REDIS_URL is set, else in-process threads.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Monitors (checks/monitoring/): the beat tick hands out the monitors that are due, every
# MONITOR_TICK_S seconds (a tick not taken within two periods expires: a stopped worker does
# not come back to a pile of stale ticks).
MONITOR_TICK_S = env.float("MONITOR_TICK_S", default=2.0)
if not 0.5 <= MONITOR_TICK_S <= 30:
    raise ImproperlyConfigured("MONITOR_TICK_S must be between 0.5 and 30 seconds")
# Task modules outside an app's tasks.py (autodiscovery finds only those).
CELERY_IMPORTS = ("checks.monitoring.retention",)
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-audits": {"task": "checks.tasks.sweep_stale_audits", "schedule": 60.0},
    # Raw probes into hourly roll-ups, raw probes older than 7 days pruned (idempotent).
    "monitor-retention": {"task": "checks.monitoring.retention.retention_task", "schedule": 600.0},
    "monitor-tick": {
        "task": "checks.tasks.monitor_tick", "schedule": MONITOR_TICK_S,
        "options": {"expires": 2 * MONITOR_TICK_S},
    },
}
AUDIT_STALE_AFTER_S = env.int("AUDIT_STALE_AFTER_S", default=600)
AUDIT_INPROCESS_WORKERS = env.int("AUDIT_INPROCESS_WORKERS", default=2)

# Outbound network of audits (production: system resolver, system trust, ports 80/443).
AUDIT_NAMESERVERS = env.list("AUDIT_NAMESERVERS", default=[])
AUDIT_DNS_TIMEOUT_S = env.float("AUDIT_DNS_TIMEOUT_S", default=3.0)
AUDIT_HTTP_TIMEOUT_S = env.float("AUDIT_HTTP_TIMEOUT_S", default=10.0)
# The domain whose mail `manage.py mail_capture` receives: email.transactional sends its test
# mails there and reads them back through Redis. Empty (or no REDIS_URL): that check errors.
MAIL_CAPTURE_DOMAIN = env("MAIL_CAPTURE_DOMAIN", default="").strip().lower().rstrip(".")

# Networks (CIDRs) that monitors' probes and alert webhooks may reach although the outbound
# policy refuses them (loopback, private). Empty in production; tests set 127.0.0.0/8.
MONITOR_ALLOWED_NETWORKS = env.list("MONITOR_ALLOWED_NETWORKS", default=[])
for _network in MONITOR_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"MONITOR_ALLOWED_NETWORKS: {_network!r} is not a CIDR network") from None

# Projects may be tied to a sandbox scenario (demo and tests); scenarios are read from here.
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", default=True)
SCENARIOS_DIR = Path(env("SCENARIOS_DIR", default=str(BASE_DIR / "scenarios")))
HANDOVER_DIR = Path(env("HANDOVER_DIR", default=str(VAR_DIR / "handover")))

LOG_FORMAT = env("LOG_FORMAT", default="json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Structured: one JSON object per line (launchready/logformat.py), every field with tokens,
    # passwords and webhook URLs masked; LOG_FORMAT=plain for a human-friendly console.
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "launchready.logformat.JsonLinesFormatter"},
    },
    # "secrets" masks every credential a message may carry — request paths with invite and
    # password-reset tokens included (the JSON formatter masks its whole line again, tracebacks
    # included).
    "filters": {
        "secrets": {"()": "launchready.logformat.RedactSecrets"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["secrets"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # WeasyPrint and fontTools narrate every PDF at INFO.
    # httpx logs every request of an audit at INFO: evidence belongs in results, not logs.
    # aiosmtpd ("mail.log": the sandbox's SMTP server and the capture server) logs every
    # protocol line at INFO and an AUTH LOGIN answer — a base64 password — at DEBUG.
    "loggers": {
        **{name: {"level": "WARNING"}
           for name in ("fontTools", "weasyprint", "httpx", "httpcore", "mail.log")},
        # The loggers that log request paths mask them at the source too, for every handler
        # (Django's own, tests'). Naming a logger here drops its handlers: django.server
        # (runserver's request lines) then reaches the console through root.
        **{name: {"filters": ["secrets"], "propagate": True}
           for name in ("django.request", "django.server", "django.security.csrf")},
    },
}
