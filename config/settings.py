"""Settings for the whole platform, driven by environment variables.

One module for every environment: development works with no configuration at all (SQLite,
development secrets, ORM broker); production sets ``DJANGO_DEBUG=false`` plus real secrets,
``DATABASE_URL`` and usually ``REDIS_URL``. See README.md for the full list.
"""

import os
import sys
from decimal import Decimal
from pathlib import Path

import dj_database_url
import django_stubs_ext

from core.env import env_bool, env_decimal, env_int, env_list, env_str

# Lets the admin and querysets be written with type parameters (ModelAdmin[Run]) at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PLATFORM_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -----------------------------------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", True)

# Every secret has a development default so that the platform runs with no configuration.
# With DJANGO_DEBUG=false, core.checks refuses to start while any of them is still the default.
DEV_SECRET_DEFAULTS = {
    "DJANGO_SECRET_KEY": "dev-insecure-secret-key-change-me",
    "INGESTION_SECRETS": "secret",
    "WEBHOOKS_SIGNING_SECRET": "whsec_dev_insecure_signing_secret",
}
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_DEFAULTS["DJANGO_SECRET_KEY"])
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # django.contrib.admin with the platform's site: names and the dashboard (core/admin_site.py).
    "core.admin_config.PlatformAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    # Sign-in with Google for analytics owners (offered only with GOOGLE_CLIENT_ID/SECRET set;
    # the apps are installed either way so the schema does not depend on the environment).
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "core",
    "royalties",
    "ingestion",
    "streams",
    "webhooks",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    # API requests without a session cookie skip the four browser-only middleware below
    # (core/middleware.py; docs/decisions/0007-api-fast-path.md).
    "core.middleware.ApiFastPathMiddleware",
    "core.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.CsrfViewMiddleware",
    "core.middleware.AuthenticationMiddleware",
    "core.middleware.MessageMiddleware",
    # django-allauth's request context (sign-in pages); required by allauth, cheap elsewhere.
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A view that raised because the database or Redis is unavailable for the moment, the API's
    # and the admin's alike: 503 with Retry-After, not 500 (decision 0071).
    "core.outages.OutageMiddleware",
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

# --- Database -------------------------------------------------------------------------------

SQLITE_PATH = VAR_DIR / "platform.sqlite3"
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{SQLITE_PATH}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
# PostgreSQL: server-side binding, and a statement prepared on a connection once it has run
# there DATABASE_PREPARE_THRESHOLD times (psycopg's default, 5): the hot statements are planned
# once per connection, not on every request (docs/decisions/0065-prepared-statements.md).
# A negative threshold prepares nothing (for a pooler that cannot keep them, such as PgBouncer
# in transaction mode).
_PREPARE_THRESHOLD = env_int("DATABASE_PREPARE_THRESHOLD", 5)
POSTGRES_PREPARED = {
    "server_side_binding": True,
    "prepare_threshold": None if _PREPARE_THRESHOLD < 0 else _PREPARE_THRESHOLD,
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while one writer writes; IMMEDIATE takes the write lock at BEGIN,
    # so two transactions never both read and then fail to upgrade (no "database is locked"
    # half-way through a check-then-insert).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-platform.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and (
    sys.argv[1:2] == ["qcluster"]
):
    # A worker cluster forks its worker processes after it has used the database, and a pool
    # (its connections and its threads) does not survive a fork: the children would share
    # the parent's sockets. Each worker process keeps one connection of its own instead,
    # checked before reuse (docs/decisions/0008-connection-pool.md).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_WORKER_CONN_MAX_AGE_SECONDS", 300)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).update(POSTGRES_PREPARED)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg's connection pool (docs/decisions/0008-connection-pool.md): each request borrows
    # a connection and gives it back when Django closes it (CONN_MAX_AGE must be 0 with a
    # pool), so no idle connection is left per served thread, and the pool checks a
    # connection when it is returned rather than with a SELECT 1 before every request.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"].setdefault("OPTIONS", {}).update(POSTGRES_PREPARED)
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 8),
        "timeout": env_int("DATABASE_POOL_TIMEOUT_SECONDS", 10),
        "max_idle": env_int("DATABASE_POOL_MAX_IDLE_SECONDS", 300),
    }

IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and queue ------------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # A database cache works across processes (web and worker), which the health check and
    # the worker's cluster statistics rely on; locmem would be per process.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "platform_cache",
        }
    }

Q_CLUSTER = {
    "name": "platform",
    "workers": env_int("Q_WORKERS", 2),
    "recycle": 500,
    "timeout": env_int("Q_TASK_TIMEOUT_SECONDS", 1800),
    # retry must exceed timeout, or a long task would be handed to a second worker.
    "retry": env_int("Q_TASK_TIMEOUT_SECONDS", 1800) + 60,
    "max_attempts": 3,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "label": "Task queue",
    "orm": None if REDIS_URL else "default",
    "redis": REDIS_URL or None,
    "sync": env_bool("Q_SYNC", False),
}
if not REDIS_URL:
    Q_CLUSTER.pop("redis")
else:
    Q_CLUSTER.pop("orm")

# Seconds after which a silent worker cluster makes /healthz answer 503.
HEALTH_WORKER_STALE_SECONDS = env_int("HEALTH_WORKER_STALE_SECONDS", 10)

# --- Auth, i18n, static ---------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
MEDIA_ROOT = VAR_DIR / "media"
WHITENOISE_USE_FINDERS = DEBUG

AUTHENTICATION_BACKENDS = [
    # Usernames and passwords: the admin login and POST /api/auth/token.
    "django.contrib.auth.backends.ModelBackend",
    # Sign-in with Google (django-allauth).
    "allauth.account.auth_backends.AuthenticationBackend",
]

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- REST API -------------------------------------------------------------------------------

API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 10 * 1024 * 1024)
# Multipart uploads (royalties input files) stream to disk and have their own, larger cap.
API_MAX_UPLOAD_BYTES = env_int("API_MAX_UPLOAD_BYTES", 2 * 1024 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# The WSGI fast path (core/fastpath.py, decision 0073): (method, URL name, handler[, the URL's
# kwargs]) of the routes whose common answer is given before Django's handler. FAST_PATH=false
# turns it off.
FAST_PATH_ENABLED = env_bool("FAST_PATH", True)
FAST_PATH_ROUTES = [
    ("POST", "analytics-collect", "analytics.api.fast.collect"),
    ("POST", "ingestion-live-event", "ingestion.api.fast.live_event"),
    ("POST", "webhooks-compat-webhook", "webhooks.api.fast.collection_create_fast"),
    ("POST", "webhooks-collection-create", "webhooks.api.fast.collection_create_fast"),
    # One route per name of webhooks.selectors.MOCK_PROVIDER_NAMES (a test checks they match).
    ("GET", "webhooks-mock-provider", "webhooks.api.fast.mock_provider_fast", {"name": "gas"}),
    ("GET", "webhooks-mock-provider", "webhooks.api.fast.mock_provider_fast", {"name": "internet"}),
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.ModelPermissions"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["core.api.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Proxies in front of the server: the limits per client address count by the address the
    # last of them saw (X-Forwarded-For). 0, the default: the connection's address, since a
    # client could otherwise name any address and escape its limit.
    "NUM_PROXIES": env_int("API_NUM_PROXIES", 0),
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [
        *REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"],  # type: ignore[misc]
        "rest_framework.renderers.BrowsableAPIRenderer",
    ]

SPECTACULAR_SETTINGS = {
    "TITLE": "Streaming back office API",
    "DESCRIPTION": (
        "Royalties, revenue ingestion, concurrent-stream limits, provider webhooks and "
        "analytics. Operator endpoints take `Authorization: Token <key>` or a session; compat "
        "endpoints keep the original services' contracts."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    "TAGS": [
        {"name": "platform", "description": "Health of the platform."},
        {"name": "royalties", "description": "Consolidation runs and payout reports (operators)."},
        {"name": "royalties compat", "description": "The original royalties service's paths."},
        {"name": "ingestion", "description": "Batches of revenue events (shared secret)."},
        {"name": "ingestion compat", "description": "The original ingestion paths."},
        {"name": "streams", "description": "Stream sessions (leases) and viewers' limits."},
        {"name": "streams compat", "description": "The original stream-check path."},
        {
            "name": "webhooks",
            "description": (
                "Collection requests (open; the id is the access), their status, redelivery "
                "and the mock providers' failure settings (operators)."
            ),
        },
        {"name": "webhooks compat", "description": "The original collection path."},
        {
            "name": "webhooks mock providers",
            "description": "Mock data providers with injected failures (development, bench).",
        },
        {
            "name": "analytics",
            "description": (
                "Owners' apps and API keys (/api/auth/), event collection (x-api-key) and "
                "fresh event summaries and user statistics (owners)."
            ),
        },
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.common_errors_add",
    ],
}

# --- Logging --------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler would print every record a second time via the root.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Domains --------------------------------------------------------------------------------

# royalties
ROYALTIES_MAX_REJECTED_FRACTION = env_decimal("ROYALTIES_MAX_REJECTED_FRACTION", Decimal("0.01"))
ROYALTIES_METADATA_TIMEOUT_SECONDS = env_int("ROYALTIES_METADATA_TIMEOUT_SECONDS", 10)
ROYALTIES_METADATA_RETRIES = env_int("ROYALTIES_METADATA_RETRIES", 4)
# First pause between two metadata fetch attempts; it doubles after each failure (30 s at most).
ROYALTIES_METADATA_BACKOFF_SECONDS = env_decimal(
    "ROYALTIES_METADATA_BACKOFF_SECONDS", Decimal("0.5")
)
# Rejected rows kept (with their line numbers) in a run's error list; the count is always exact.
ROYALTIES_MAX_ERRORS_LISTED = env_int("ROYALTIES_MAX_ERRORS_LISTED", 1000)
# A queued run this old is handed to the worker again (its task may have been lost).
ROYALTIES_QUEUED_STALE_SECONDS = env_int("ROYALTIES_QUEUED_STALE_SECONDS", 600)

# ingestion
INGESTION_SECRETS = env_list("INGESTION_SECRETS", [DEV_SECRET_DEFAULTS["INGESTION_SECRETS"]])
INGESTION_MAX_BATCH = env_int("INGESTION_MAX_BATCH", 10_000)
INGESTION_BATCH_SIZE = env_int("INGESTION_BATCH_SIZE", 500)
INGESTION_BATCH_TIMEOUT = env_int("INGESTION_BATCH_TIMEOUT", 60)
# Events one processor transaction claims at most (large claims fold faster; see docs/ingestion.md).
INGESTION_PROCESS_CLAIM = env_int("INGESTION_PROCESS_CLAIM", 1_000_000)
# How long an eventId / Idempotency-Key is remembered (docs/decisions/0021-idempotency.md).
INGESTION_IDEMPOTENCY_RETENTION_DAYS = env_int("INGESTION_IDEMPOTENCY_RETENTION_DAYS", 30)

# streams
STREAMS_DEFAULT_LIMIT = env_int("STREAMS_DEFAULT_LIMIT", 3)
STREAMS_HEARTBEAT_SECONDS = env_int("STREAMS_HEARTBEAT_SECONDS", 20)
STREAMS_LEASE_SECONDS = env_int("STREAMS_LEASE_SECONDS", 60)
# Ended sessions are kept this long (for the admin and support questions), then deleted.
STREAMS_ENDED_RETENTION_DAYS = env_int("STREAMS_ENDED_RETENTION_DAYS", 30)

# webhooks (docs/webhooks.md)
WEBHOOKS_SIGNING_SECRET = env_str(
    "WEBHOOKS_SIGNING_SECRET", DEV_SECRET_DEFAULTS["WEBHOOKS_SIGNING_SECRET"]
)
# Provider name -> URL fetched for it. The names are the ones a collection request may ask for.
WEBHOOKS_PROVIDER_BASE_URL = env_str(
    "WEBHOOKS_PROVIDER_BASE_URL", "http://127.0.0.1:8000/providers/"
)
WEBHOOKS_PROVIDERS = {
    name: WEBHOOKS_PROVIDER_BASE_URL + name
    for name in env_list("WEBHOOKS_PROVIDERS", ["gas", "internet"])
}
# Callbacks to loopback/private/link-local addresses: development and tests only (refused below
# when DJANGO_DEBUG is false; docs/decisions/0043-webhooks-ssrf-guard.md).
WEBHOOKS_ALLOW_PRIVATE_CALLBACKS = env_bool("WEBHOOKS_ALLOW_PRIVATE_CALLBACKS", DEBUG)
# Networks (CIDR, comma-separated) callbacks may reach even though they are not public: an
# operator's own receivers on an internal network. Empty by default; allowed in production.
WEBHOOKS_CALLBACK_ALLOWED_NETWORKS = env_list("WEBHOOKS_CALLBACK_ALLOWED_NETWORKS", [])
# Collection requests per minute per client address (0 = no limit).
WEBHOOKS_SUBMIT_RATE = env_int("WEBHOOKS_SUBMIT_RATE", 600)
# Retries: full jitter over min(cap, base * 2**(n-1)) seconds (docs/decisions/0041-...).
WEBHOOKS_BACKOFF_BASE_SECONDS = env_decimal("WEBHOOKS_BACKOFF_BASE_SECONDS", Decimal("2"))
WEBHOOKS_MAX_BACKOFF = env_int("WEBHOOKS_MAX_BACKOFF", 600)
WEBHOOKS_COLLECT_DEADLINE = env_int("WEBHOOKS_COLLECT_DEADLINE", 72 * 3600)
WEBHOOKS_DELIVERY_WINDOW = env_int("WEBHOOKS_DELIVERY_WINDOW", 72 * 3600)
WEBHOOKS_FETCH_TIMEOUT_SECONDS = env_int("WEBHOOKS_FETCH_TIMEOUT_SECONDS", 10)
WEBHOOKS_DELIVERY_TIMEOUT_SECONDS = env_int("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", 10)
# Circuit breaker per provider: this many consecutive failures open it for the cool-down.
WEBHOOKS_BREAKER_FAILURES = env_int("WEBHOOKS_BREAKER_FAILURES", 5)
WEBHOOKS_BREAKER_COOLDOWN_SECONDS = env_int("WEBHOOKS_BREAKER_COOLDOWN_SECONDS", 30)
# A claimed fetch or delivery is taken back after this long (a worker that died holding it).
# Must exceed the longest HTTP attempt (the timeouts above) plus the mock latency.
WEBHOOKS_LEASE_SECONDS = env_int("WEBHOOKS_LEASE_SECONDS", 60)
# HTTP attempts in flight at once in one sweep (libcurl, connections kept alive); rows claimed
# per pass.
WEBHOOKS_CONCURRENCY = env_int("WEBHOOKS_CONCURRENCY", 16)
WEBHOOKS_CLAIM_BATCH = env_int("WEBHOOKS_CLAIM_BATCH", 64)
# The sweep keeps draining (polling every WEBHOOKS_SWEEP_POLL_SECONDS) while work falls due
# within WEBHOOKS_SWEEP_HORIZON_SECONDS, for at most WEBHOOKS_SWEEP_SECONDS per task
# (docs/decisions/0042-webhooks-prompt-sweep.md).
WEBHOOKS_SWEEP_SECONDS = env_int("WEBHOOKS_SWEEP_SECONDS", 240)
WEBHOOKS_SWEEP_HORIZON_SECONDS = env_int("WEBHOOKS_SWEEP_HORIZON_SECONDS", 75)
WEBHOOKS_SWEEP_POLL_SECONDS = env_decimal("WEBHOOKS_SWEEP_POLL_SECONDS", Decimal("0.2"))
# Due rows that start a sweep task right after a commit (1: any).
WEBHOOKS_SWEEP_THRESHOLD = env_int("WEBHOOKS_SWEEP_THRESHOLD", 1)
# Mock providers (GET /providers/{name}): defaults of their run-time settings.
PROVIDERS_MOCK_ENABLED = env_bool("PROVIDERS_MOCK_ENABLED", DEBUG)
PROVIDERS_FAILURE_RATE = env_decimal("PROVIDERS_FAILURE_RATE", Decimal("0.5"))
PROVIDERS_LATENCY_MS = env_int("PROVIDERS_LATENCY_MS", 0)

# analytics
# POST /api/auth/signup creates owner accounts only when this is on (operators create them else).
ANALYTICS_OPEN_SIGNUP = env_bool("ANALYTICS_OPEN_SIGNUP", False)
ANALYTICS_MAX_BATCH = env_int("ANALYTICS_MAX_BATCH", 1000)
ANALYTICS_BATCH_SIZE = env_int("ANALYTICS_BATCH_SIZE", 500)
ANALYTICS_BATCH_TIMEOUT = env_int("ANALYTICS_BATCH_TIMEOUT", 60)
# Events one processor transaction claims at most.
ANALYTICS_PROCESS_CLAIM = env_int("ANALYTICS_PROCESS_CLAIM", 200_000)
# Requests per minute: collect per API key, reads per owner (0 = no limit).
ANALYTICS_COLLECT_RATE = env_int("ANALYTICS_COLLECT_RATE", 6000)
ANALYTICS_READ_RATE = env_int("ANALYTICS_READ_RATE", 600)
# Days a new key stays valid (0 = no expiry: expiresAt null).
ANALYTICS_KEY_TTL_DAYS = env_int("ANALYTICS_KEY_TTL_DAYS", 0)

# --- Sign-in with Google (analytics owners) --------------------------------------------------

# The original service signed owners in with Google. Offered only while both are set (an OAuth
# client of type "Web application"; its redirect URI is <site>/accounts/google/login/callback/);
# unset, every /accounts/ path answers the JSON 404. See docs/decisions/0054-google-sign-in.md.
GOOGLE_CLIENT_ID = env_str("GOOGLE_CLIENT_ID", "")
GOOGLE_CLIENT_SECRET = env_str("GOOGLE_CLIENT_SECRET", "")
if bool(GOOGLE_CLIENT_ID) != bool(GOOGLE_CLIENT_SECRET):
    # Half a client is a typo in a deployment, not a wish to turn the sign-in off: say so.
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are set together (sign-in with Google) "
        "or not at all; only "
        + ("GOOGLE_CLIENT_ID" if GOOGLE_CLIENT_ID else "GOOGLE_CLIENT_SECRET")
        + " is set."
    )

# django-allauth, reduced to signing in with Google: no local passwords, sign-ups or email
# confirmations of its own (owners with a password use POST /api/auth/token; the admin keeps
# Django's login). Whether a new Google account may sign up is ANALYTICS_OPEN_SIGNUP.
SOCIALACCOUNT_ONLY = True
SOCIALACCOUNT_ADAPTER = "analytics.signin.GoogleSignInAdapter"
ACCOUNT_ADAPTER = "analytics.signin.OwnerAccountAdapter"
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
# Owners made by open signup typed their address unverified: a Google account is never joined
# to an existing account by its email (that would hand the account to whoever typed it first).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
ACCOUNT_UNIQUE_EMAIL = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_STORE_TOKENS = False
# No confirmation page between "Sign in with Google" and Google: the login is a POST (CSRF).
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_PROVIDERS = {
    "google": {"SCOPE": ["openid", "profile", "email"], "OAUTH_PKCE_ENABLED": True},
}
# The callback URL sent to Google is built from the request: behind a proxy that ends TLS the
# request looks like http, and Google accepts only the https redirect URI registered.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
# Where a signed-in owner lands: their API token as JSON (GET /api/auth/token).
LOGIN_REDIRECT_URL = "/api/auth/token"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- Demo -----------------------------------------------------------------------------------

# Development-only operator account created by `manage.py start` (documented in README.md).
DEMO_OPERATOR_USERNAME = "operator"
DEMO_OPERATOR_PASSWORD = "operator-demo-password"

# --- Production guard -----------------------------------------------------------------------

if not DEBUG:
    from core.env import refuse_dev_flags, refuse_dev_secrets

    refuse_dev_secrets(DEV_SECRET_DEFAULTS)
    refuse_dev_flags({"WEBHOOKS_ALLOW_PRIVATE_CALLBACKS": WEBHOOKS_ALLOW_PRIVATE_CALLBACKS})
