"""Atelier settings. Every value comes from the environment; see docs/configuration.md."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ATELIER_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required unless DEBUG=1")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The public origin used to build absolute links (signed image URLs) when no request is at hand.
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "accounts",
    "billing",
    "billing.payments",
    "generation",
    "generation.moderation",
    # Native API extras (issue 6): nested apps keep their own migrations.
    "accounts.idempotency",
    "generation.webhooks",
    "generation.batches",
    "generation.dedupe",
    "generation.assets",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

if not env_str("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded default keeps its SQLite file here
DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'atelier.sqlite3'}", base_dir=BASE_DIR
    )
}
# A connection pool per process (Django's psycopg_pool support), turned on by config/asgi.py for
# the web server: under ASGI every request runs on its own thread, and a connection per thread
# (opened and closed per request) costs PostgreSQL a process fork each time. Workers and
# management commands keep one persistent connection (CONN_MAX_AGE) instead.
DATABASE_POOL_MAX = env_int("DATABASE_POOL_MAX", 0, minimum=0)
if DATABASE_POOL_MAX and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections instead
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": min(2, DATABASE_POOL_MAX), "max_size": DATABASE_POOL_MAX, "timeout": 30}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = env_url("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "config.cache.SharedRedisCache",
                          "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Production runs `collectstatic` into STATIC_ROOT; the embedded default serves from the apps.
STATIC_ROOT = env_str("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True  # serve app static files without a collectstatic step
STATICFILES_DIRS = [BASE_DIR / "static"]  # the dashboard's CSS and small scripts
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
S3_BUCKET = env_str("S3_BUCKET")
if S3_BUCKET:
    # S3-compatible storage (AWS, MinIO, R2...) through django-storages; install the `s3` extra.
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_url("S3_ENDPOINT_URL"),
            "access_key": env_str("S3_ACCESS_KEY_ID"),
            "secret_key": env_str("S3_SECRET_ACCESS_KEY"),
            "region_name": env_str("S3_REGION"),
            "default_acl": "private",
            "querystring_auth": True,
        },
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.CappedJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "config.errors.native_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["config.ratelimit.PerKeyRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Atelier native API",
    "DESCRIPTION": "Async image generation on prepaid credits. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc are served from drf-spectacular-sidecar: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}

# django-q2: the ORM broker by default (no service needed), Redis when REDIS_URL is set.
Q_CLUSTER = {
    "name": "atelier",
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": env_int("Q_TIMEOUT", 900, minimum=10),
    # A task not acknowledged within `retry` seconds (its worker died) is delivered again;
    # running a job twice is safe because a worker claims it with a conditional update.
    "retry": env_int("Q_TIMEOUT", 900, minimum=10) + 60,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.2

# Upstreams and payments: each integration is off until configured.
GEMINI_API_KEY = env_str("GEMINI_API_KEY") or None
GEMINI_BASE_URL = env_url("GEMINI_BASE_URL", "https://generativelanguage.googleapis.com")
# Upstream channels and workers (docs/upstreams.md).
CHANNEL_ENCRYPTION_KEY = env_str("CHANNEL_ENCRYPTION_KEY") or None
CHANNEL_ENCRYPTION_OLD_KEYS = env_list("CHANNEL_ENCRYPTION_OLD_KEYS", [])
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 64, minimum=1)  # upstream calls per worker
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 4, minimum=1)
RETRY_BACKOFF_BASE_MS = env_int("RETRY_BACKOFF_BASE_MS", 1000, minimum=1)
BREAKER_FAILURES = env_int("BREAKER_FAILURES", 5, minimum=1)  # consecutive, to open a channel's breaker
BREAKER_COOLDOWN_SECONDS = env_int("BREAKER_COOLDOWN_SECONDS", 30, minimum=1)  # open → probe
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY") or None
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET") or None
STRIPE_API_BASE = env_url("STRIPE_API_BASE")

# Credit purchases (billing.payments, docs/payments.md): custom amounts in whole dollars.
PURCHASE_MIN_USD = env_int("PURCHASE_MIN_USD", 5, minimum=1)
PURCHASE_MAX_USD = env_int("PURCHASE_MAX_USD", 10_000, minimum=1)
if PURCHASE_MIN_USD > PURCHASE_MAX_USD:
    raise ImproperlyConfigured("PURCHASE_MIN_USD must not exceed PURCHASE_MAX_USD")
AUTO_RECHARGE_MAX_FAILURES = env_int("AUTO_RECHARGE_MAX_FAILURES", 3, minimum=1)

# Product rules.
SIGNED_URL_TTL_SECONDS = env_int("SIGNED_URL_TTL_SECONDS", 3600, minimum=60)
JOB_DEADLINE_SECONDS = env_int("JOB_DEADLINE_SECONDS", 600, minimum=5)
MAX_PROMPT_CHARS = env_int("MAX_PROMPT_CHARS", 32000, minimum=1)

# Moderation (docs/moderation.md): what a safety-blocked job costs, and when strikes suspend.
BLOCKED_CHARGE_POLICY = env_str("BLOCKED_CHARGE_POLICY", "none")
if BLOCKED_CHARGE_POLICY not in ("none", "full"):
    raise ImproperlyConfigured(f"BLOCKED_CHARGE_POLICY must be none or full, got {BLOCKED_CHARGE_POLICY!r}")
MODERATION_STRIKES_TO_SUSPEND = env_int("MODERATION_STRIKES_TO_SUSPEND", 3, minimum=1)
MODERATION_STRIKE_WINDOW_DAYS = env_int("MODERATION_STRIKE_WINDOW_DAYS", 30, minimum=1)
# Dashboard sessions and email (invitations, password resets, receipts, alerts): printed to the
# console in DEBUG (no mail server needed), SMTP otherwise.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/app/"
LOGOUT_REDIRECT_URL = "/login/"
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
                        if DEBUG else "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Atelier <no-reply@atelier.local>")
# Native API extras (issue 6): limits, idempotency, webhooks, batches, dedupe, retention.
RATE_LIMIT_PER_KEY_RPM = env_int("RATE_LIMIT_PER_KEY_RPM", 600, minimum=1)
MAX_CONCURRENT_JOBS_PER_ORG = env_int("MAX_CONCURRENT_JOBS_PER_ORG", 100, minimum=1)
MAX_JSON_BODY_BYTES = env_int("MAX_JSON_BODY_BYTES", 8 * 1024 * 1024, minimum=1024)
MAX_BATCH_REQUESTS = env_int("MAX_BATCH_REQUESTS", 1000, minimum=1)
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=24)
# Off in production: webhook (and reference) URLs resolving to loopback/private/link-local
# addresses are refused. Development and tests turn it on to reach a local receiver.
ALLOW_PRIVATE_WEBHOOK_URLS = env_bool("ALLOW_PRIVATE_WEBHOOK_URLS", False)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 15, minimum=1)
REFERENCE_URL_TIMEOUT_SECONDS = env_int("REFERENCE_URL_TIMEOUT_SECONDS", 10, minimum=1)
IMAGE_RETENTION_DAYS = env_int("IMAGE_RETENTION_DAYS", 30, minimum=1)
DEDUPE_DEFAULT_WINDOW_SECONDS = env_int("DEDUPE_DEFAULT_WINDOW_SECONDS", 86400, minimum=1)
DEDUPE_CACHE_PRICE_MICROS = env_int("DEDUPE_CACHE_PRICE_MICROS", 0, minimum=0)
# Customer API (compatible surfaces, reference images): limits on what a request may carry.
MAX_IMAGE_UPLOAD_BYTES = env_int("MAX_IMAGE_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=1024)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000, minimum=10_000)
# Whole request bodies outside file uploads (Gemini-style JSON carries images as base64).
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 64 * 1024 * 1024, minimum=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
# How long a sync surface (OpenAI-/Gemini-compatible) waits for its job before answering 504.
SYNC_WAIT_SECONDS = env_int("SYNC_WAIT_SECONDS", 300, minimum=5)
# Database calls a web process runs at once for waiting sync requests (generation/waiting.py).
SYNC_DB_CONCURRENCY = env_int("SYNC_DB_CONCURRENCY", 16, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
