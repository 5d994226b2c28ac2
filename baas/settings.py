"""Settings, read from the environment only.

Two modes share this one module. Embedded (the default) needs nothing but Python:
SQLite in WAL mode, the in-process channel layer, local memory cache, local files and
an in-process Celery worker. Services mode switches on per variable: ``DATABASE_URL``
(PostgreSQL), ``REDIS_URL`` (cache, channel layer, rate limits, Celery broker),
``BAAS_STORAGE=s3``. ``.env.example`` documents every variable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """A string setting; ``NAME_FILE`` (a path) wins, for secrets mounted as files."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DATA_DIR = Path(env_str("BAAS_DATA_DIR", str(Path.cwd() / ".baas-data"))).resolve()


def _secret_key() -> str:
    """The env value, else a random key kept in the data dir so restarts keep sessions."""
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
SERVICES_MODE = bool(REDIS_URL) or DATABASE_URL.startswith(("postgres", "postgresql"))

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "channels",
    "baas",
    "projects",
    "projects.documents",
    "endusers",
    "storage",
    "projects.push",
    "projects.webhooks",
    "realtime",
    "functions",
    "dashboard",
]

MIDDLEWARE = [
    "baas.middleware.RequestContextMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "baas.urls"
ASGI_APPLICATION = "baas.asgi.application"
WSGI_APPLICATION = "baas.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- database ---------------------------------------------------------------------------
def _sqlite_database(path: str) -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at
            # BEGIN so two writers queue instead of failing on lock upgrade.
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=20000;PRAGMA foreign_keys=ON;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": str(Path(path).with_name("test-" + Path(path).name))},
    }


if DATABASE_URL and not DATABASE_URL.startswith("sqlite:"):
    _db = dj_database_url.parse(DATABASE_URL)
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # psycopg 3's pool keeps connections open across requests (ASGI closes per request).
        _db["CONN_MAX_AGE"] = 0
        _db["OPTIONS"] = {
            **_db.get("OPTIONS", {}),
            # Bind parameters server-side so psycopg prepares hot statements: PostgreSQL
            # then skips parsing and planning them (behind PgBouncer, use session mode).
            "server_side_binding": env_bool("BAAS_DB_SERVER_SIDE_BINDING", True),
            "pool": {
                "min_size": env_int("BAAS_DB_POOL_MIN", 2),
                "max_size": env_int("BAAS_DB_POOL_MAX", 24),
                "timeout": 10,
            },
        }
    DATABASES = {"default": _db}
elif DATABASE_URL:
    DATABASES = {"default": _sqlite_database(dj_database_url.parse(DATABASE_URL)["NAME"])}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": _sqlite_database(str(DATA_DIR / "db.sqlite3"))}
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, channel layer, celery -------------------------------------------------------
KEY_PREFIX = env_str("BAAS_KEY_PREFIX", "baas")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": KEY_PREFIX,
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{KEY_PREFIX}:asgi", "capacity": 1000},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "baas"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://localhost/")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL or "cache+memory://")
# Embedded mode runs a Celery worker in a thread of the server process (see baas/jobs.py).
BAAS_EMBEDDED_WORKER = CELERY_BROKER_URL.startswith("memory://")

# --- auth, passwords --------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"

# --- end-user auth ------------------------------------------------------------------------
# The deployment's public address: access tokens' ``iss`` is this plus the project's path.
BAAS_PUBLIC_URL = env_str("BAAS_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
BAAS_AUTH_ACCESS_TOKEN_LIFETIME = env_int("BAAS_AUTH_ACCESS_TOKEN_LIFETIME", 15 * 60)  # seconds
# No token lives longer; a retired signing key stays published this long.
BAAS_AUTH_MAX_TOKEN_LIFETIME = env_int("BAAS_AUTH_MAX_TOKEN_LIFETIME", 24 * 3600)
BAAS_AUTH_REFRESH_TOKEN_LIFETIME = env_int("BAAS_AUTH_REFRESH_TOKEN_LIFETIME", 30 * 24 * 3600)  # per token; use renews
# A refresh token used again this soon is the same client (a retry whose answer was lost,
# two tabs refreshing at once): it gets a session; later reuse revokes the family.
BAAS_AUTH_REFRESH_REUSE_GRACE_SECONDS = env_int("BAAS_AUTH_REFRESH_REUSE_GRACE_SECONDS", 10)
# End users' Argon2id cost (OWASP's baseline); console users keep Django's defaults.
BAAS_AUTH_ARGON2_MEMORY_KIB = env_int("BAAS_AUTH_ARGON2_MEMORY_KIB", 19 * 1024)
BAAS_AUTH_ARGON2_TIME_COST = env_int("BAAS_AUTH_ARGON2_TIME_COST", 2)
BAAS_AUTH_ARGON2_PARALLELISM = env_int("BAAS_AUTH_ARGON2_PARALLELISM", 1)
# Failed sign-ins allowed per account (email) and per client IP in each window.
BAAS_AUTH_LOGIN_FAILURES_PER_ACCOUNT = env_int("BAAS_AUTH_LOGIN_FAILURES_PER_ACCOUNT", 10)
BAAS_AUTH_LOGIN_FAILURES_PER_IP = env_int("BAAS_AUTH_LOGIN_FAILURES_PER_IP", 100)
BAAS_AUTH_LOGIN_FAILURE_WINDOW = env_int("BAAS_AUTH_LOGIN_FAILURE_WINDOW", 15 * 60)  # seconds
BAAS_AUTH_RESET_TOKEN_LIFETIME = env_int("BAAS_AUTH_RESET_TOKEN_LIFETIME", 3600)
BAAS_AUTH_VERIFY_TOKEN_LIFETIME = env_int("BAAS_AUTH_VERIFY_TOKEN_LIFETIME", 24 * 3600)

# --- email (verification and password reset) ----------------------------------------------
# Services mode sends through SMTP; embedded mode writes each message to a file.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if SERVICES_MODE else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "no-reply@localhost")

# --- i18n, static -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders too, so `baas up` needs no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- request limits ---------------------------------------------------------------------
# Document bodies may be 1 MiB of JSON plus the envelope; larger bodies are 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("BAAS_MAX_REQUEST_BYTES", 2 * 1024 * 1024)
BAAS_RATE_LIMIT_PER_KEY = env_int("BAAS_RATE_LIMIT_PER_KEY", 6000)  # requests per window
BAAS_RATE_LIMIT_PER_IP = env_int("BAAS_RATE_LIMIT_PER_IP", 6000)
BAAS_RATE_LIMIT_WINDOW = env_int("BAAS_RATE_LIMIT_WINDOW", 60)  # seconds
# Counters live under this name: changing it starts every count afresh.
BAAS_RATE_LIMIT_NAMESPACE = env_str("BAAS_RATE_LIMIT_NAMESPACE", "v1")
# Behind a load balancer, the client address is the first X-Forwarded-For hop.
BAAS_TRUST_X_FORWARDED_FOR = env_bool("BAAS_TRUST_X_FORWARDED_FOR", False)

# --- documents --------------------------------------------------------------------------
BAAS_MAX_DOCUMENT_BYTES = env_int("BAAS_MAX_DOCUMENT_BYTES", 1024 * 1024)
BAAS_MAX_DOCUMENT_DEPTH = env_int("BAAS_MAX_DOCUMENT_DEPTH", 20)
BAAS_MAX_BATCH_WRITES = env_int("BAAS_MAX_BATCH_WRITES", 500)
# The change log keeps entries at least this long, and at least the newest N per project.
BAAS_CHANGELOG_RETENTION_SECONDS = env_int("BAAS_CHANGELOG_RETENTION_SECONDS", 24 * 3600)
BAAS_CHANGELOG_MIN_ENTRIES = env_int("BAAS_CHANGELOG_MIN_ENTRIES", 10_000)
# Run the change-log sequencer thread in server and worker processes (off only in tests
# that drive it by hand).
BAAS_CHANGELOG_SEQUENCER = env_bool("BAAS_CHANGELOG_SEQUENCER", True)

# --- usage metrics (console charts) --------------------------------------------------------
# Seconds between flushes of in-memory usage counts to the database; 0: never in the
# background. By default on wherever the change-log sequencer runs (servers and workers).
BAAS_USAGE_FLUSH_SECONDS = float(env_str("BAAS_USAGE_FLUSH_SECONDS", "10" if BAAS_CHANGELOG_SEQUENCER else "0") or "0")
BAAS_USAGE_SAMPLE_SECONDS = env_int("BAAS_USAGE_SAMPLE_SECONDS", 300)  # documents and storage bytes

# --- realtime ----------------------------------------------------------------------------
BAAS_REALTIME_AUTH_TIMEOUT = env_int("BAAS_REALTIME_AUTH_TIMEOUT", 10)  # seconds to the first auth message
BAAS_REALTIME_IDLE_TIMEOUT = env_int("BAAS_REALTIME_IDLE_TIMEOUT", 120)  # seconds without a client message
BAAS_REALTIME_MAX_SUBSCRIPTIONS = env_int("BAAS_REALTIME_MAX_SUBSCRIPTIONS", 100)  # per connection
BAAS_REALTIME_MAX_MESSAGE_BYTES = env_int("BAAS_REALTIME_MAX_MESSAGE_BYTES", 64 * 1024)  # client messages
BAAS_REALTIME_SEND_BUFFER_BYTES = env_int("BAAS_REALTIME_SEND_BUFFER_BYTES", 4 * 1024 * 1024)  # per connection
BAAS_REALTIME_SNAPSHOT_MAX = env_int("BAAS_REALTIME_SNAPSHOT_MAX", 10_000)  # documents in one snapshot
BAAS_REALTIME_RECENT_ENTRIES = env_int("BAAS_REALTIME_RECENT_ENTRIES", 5_000)  # per project, for catch-up
BAAS_REALTIME_POLL_SECONDS = float(env_str("BAAS_REALTIME_POLL_SECONDS", "1.0") or "1.0")  # head poll under hints
BAAS_REALTIME_FEED_LINGER_SECONDS = env_int("BAAS_REALTIME_FEED_LINGER_SECONDS", 60)
BAAS_REALTIME_CONFIG_TTL = float(env_str("BAAS_REALTIME_CONFIG_TTL", "2.0") or "2.0")  # rules seen by events
BAAS_REALTIME_DB_THREADS = env_int("BAAS_REALTIME_DB_THREADS", 4)
# permessage-deflate on WebSockets: off, since compressing every small event per socket
# costs more CPU than the bandwidth it saves.
BAAS_WS_DEFLATE = env_bool("BAAS_WS_DEFLATE", False)

# --- storage ------------------------------------------------------------------------------
# Object bytes: "local" (files under BAAS_STORAGE_LOCAL_DIR) or "s3" (any S3-compatible service).
BAAS_STORAGE = env_str("BAAS_STORAGE", "local").strip().lower()
if BAAS_STORAGE not in ("local", "s3"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"BAAS_STORAGE must be 'local' or 's3', not {BAAS_STORAGE!r}")
BAAS_STORAGE_LOCAL_DIR = Path(env_str("BAAS_STORAGE_LOCAL_DIR", str(DATA_DIR / "storage"))).resolve()
# The largest object any bucket accepts (a bucket's maxFileSize may only be lower).
BAAS_STORAGE_MAX_FILE_SIZE = env_int("BAAS_STORAGE_MAX_FILE_SIZE", 5 * 1024**3)
BAAS_STORAGE_CHUNK_SIZE = env_int("BAAS_STORAGE_CHUNK_SIZE", 1024 * 1024)  # bytes per read while streaming
BAAS_STORAGE_THREADS = env_int("BAAS_STORAGE_THREADS", 32)  # upload/download threads per process
# Local downloads go from the file to the socket by sendfile(2) when the server allows it.
BAAS_STORAGE_SENDFILE = env_bool("BAAS_STORAGE_SENDFILE", True)
BAAS_STORAGE_IDLE_TIMEOUT = env_int("BAAS_STORAGE_IDLE_TIMEOUT", 60)  # seconds an upload may send nothing
# Rows a listing examines per request when rules hide objects (a page may come back short).
BAAS_STORAGE_LIST_SCAN_LIMIT = env_int("BAAS_STORAGE_LIST_SCAN_LIMIT", 5000)
# Signs object URLs (HMAC-SHA256); default: derived from SECRET_KEY. Changing it voids issued URLs.
BAAS_STORAGE_SIGNING_KEY = env_str("BAAS_STORAGE_SIGNING_KEY")
BAAS_STORAGE_MAX_SIGNED_URL_SECONDS = env_int("BAAS_STORAGE_MAX_SIGNED_URL_SECONDS", 7 * 24 * 3600)
# The AWS_* names (django-storages' and docker-compose.yml's) are read when these are unset.
BAAS_S3_BUCKET = env_str("BAAS_S3_BUCKET", env_str("AWS_STORAGE_BUCKET_NAME", "baas"))
BAAS_S3_ENDPOINT_URL = env_str("BAAS_S3_ENDPOINT_URL", env_str("AWS_S3_ENDPOINT_URL"))  # empty: AWS itself
BAAS_S3_REGION = env_str("BAAS_S3_REGION", "us-east-1")
# Empty: boto3's own chain (AWS_* variables, instance profile, ...).
BAAS_S3_ACCESS_KEY_ID = env_str("BAAS_S3_ACCESS_KEY_ID")
BAAS_S3_SECRET_ACCESS_KEY = env_str("BAAS_S3_SECRET_ACCESS_KEY")
BAAS_S3_PREFIX = env_str("BAAS_S3_PREFIX")  # put before every key, to share a bucket between deployments
BAAS_S3_ADDRESSING_STYLE = env_str("BAAS_S3_ADDRESSING_STYLE", "path")  # path | virtual | auto
BAAS_S3_PART_SIZE = max(5 * 1024**2, env_int("BAAS_S3_PART_SIZE", 8 * 1024**2))
# Also hand out S3's own presigned URLs, so clients move bytes straight to and from S3.
BAAS_S3_PRESIGNED = env_bool("BAAS_S3_PRESIGNED", False)

# --- push notifications (FCM) and webhooks ------------------------------------------------
# Send to this server instead of Google (a fake FCM for tests and development): both the
# OAuth token exchange (<endpoint>/token) and the sends (<endpoint>/v1/projects/...). Unset in production.
BAAS_FCM_ENDPOINT = env_str("BAAS_FCM_ENDPOINT").rstrip("/")
BAAS_PUSH_HTTP_TIMEOUT = env_int("BAAS_PUSH_HTTP_TIMEOUT", 10)  # seconds per FCM request
BAAS_PUSH_MAX_ATTEMPTS = env_int("BAAS_PUSH_MAX_ATTEMPTS", 5)  # per token, transient errors only
BAAS_PUSH_RETRY_BASE_SECONDS = float(env_str("BAAS_PUSH_RETRY_BASE_SECONDS", "2") or "2")
BAAS_PUSH_RETRY_MAX_SECONDS = float(env_str("BAAS_PUSH_RETRY_MAX_SECONDS", "300") or "300")
BAAS_PUSH_SWEEP_INTERVAL_SECONDS = env_int("BAAS_PUSH_SWEEP_INTERVAL_SECONDS", 60)
BAAS_PUSH_STALE_SECONDS = env_int("BAAS_PUSH_STALE_SECONDS", 600)  # a job this late is deemed lost
# Webhook targets on loopback, link-local or private networks are refused (SSRF) unless this is on.
BAAS_WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("BAAS_WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)
BAAS_WEBHOOKS_CONNECT_TIMEOUT = float(env_str("BAAS_WEBHOOKS_CONNECT_TIMEOUT", "5") or "5")  # seconds
BAAS_WEBHOOKS_TIMEOUT = float(env_str("BAAS_WEBHOOKS_TIMEOUT", "10") or "10")  # seconds to the response
BAAS_WEBHOOKS_MAX_ATTEMPTS = env_int("BAAS_WEBHOOKS_MAX_ATTEMPTS", 8)  # then "failed" until redelivered
BAAS_WEBHOOKS_RETRY_BASE_SECONDS = float(env_str("BAAS_WEBHOOKS_RETRY_BASE_SECONDS", "10") or "10")
BAAS_WEBHOOKS_RETRY_MAX_SECONDS = float(env_str("BAAS_WEBHOOKS_RETRY_MAX_SECONDS", "3600") or "3600")
BAAS_WEBHOOKS_SWEEP_INTERVAL_SECONDS = env_int("BAAS_WEBHOOKS_SWEEP_INTERVAL_SECONDS", 60)
BAAS_WEBHOOKS_SWEEP_GRACE_SECONDS = env_int("BAAS_WEBHOOKS_SWEEP_GRACE_SECONDS", 60)  # a due job this late is lost
BAAS_WEBHOOKS_STALE_SECONDS = env_int("BAAS_WEBHOOKS_STALE_SECONDS", 300)  # a claim this old: its worker died

# --- HTTP edge ----------------------------------------------------------------------------
# Run edge handlers on one thread per process (like Django's ASGI handler) instead of a
# pool; tests that call the ASGI app in-process need their database transaction's thread.
BAAS_EDGE_THREAD_SENSITIVE = env_bool("BAAS_EDGE_THREAD_SENSITIVE", False)
BAAS_EDGE_THREADS = env_int("BAAS_EDGE_THREADS", 2)
BAAS_EDGE_WRITE_THREADS = env_int("BAAS_EDGE_WRITE_THREADS", 16)
# Function calls in flight per process (each holds a thread until its function answers).
BAAS_EDGE_WAITING_THREADS = env_int("BAAS_EDGE_WAITING_THREADS", 32)
# Serve plain creates on the event loop (async psycopg) when their checks hit caches.
BAAS_EDGE_FAST_PATHS = env_bool("BAAS_EDGE_FAST_PATHS", True)

# --- REST framework ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["baas.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["baas.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "baas.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "baas.api.schema.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BaaS API",
    "DESCRIPTION": "Self-hosted, Firebase-style Backend-as-a-Service.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "baas.openapi.add_edge_routes",
    ],
}

# --- CORS: apps on other sites call the API from browsers ---------------------------------
# The API authenticates by header, never by cookie, so "*" is safe for it; the console and
# the admin (cookie sessions) are never covered. The edge and storage transports apply the
# same policy (baas/api/cors.py).
BAAS_CORS_ALLOWED_ORIGINS = env_list("BAAS_CORS_ALLOWED_ORIGINS", ["*"])
CORS_URLS_REGEX = r"^/v1/"
CORS_ALLOW_ALL_ORIGINS = "*" in BAAS_CORS_ALLOWED_ORIGINS
CORS_ALLOWED_ORIGINS = [] if CORS_ALLOW_ALL_ORIGINS else BAAS_CORS_ALLOWED_ORIGINS
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = (
    "accept", "accept-encoding", "authorization", "content-type", "if-match", "if-none-match", "if-range",
    "range", "x-api-key", "x-baas-owner", "x-request-id", "x-requested-with",
)  # fmt: skip
CORS_EXPOSE_HEADERS = (
    "accept-ranges", "content-disposition", "content-length", "content-range", "etag", "location",
    "retry-after", "x-request-id",
)  # fmt: skip

# --- production hardening (applies whenever DEBUG is off) -------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# HTTPS settings default on outside DEBUG only when the operator says TLS is in front.
BAAS_BEHIND_TLS = env_bool("BAAS_BEHIND_TLS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", BAAS_BEHIND_TLS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", BAAS_BEHIND_TLS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", BAAS_BEHIND_TLS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if BAAS_BEHIND_TLS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", BAAS_BEHIND_TLS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", BAAS_BEHIND_TLS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Without TLS in front, the deploy checks about HTTPS do not apply; they are silenced only then.
SILENCED_SYSTEM_CHECKS = (
    []
    if BAAS_BEHIND_TLS
    else ["security.W004", "security.W008", "security.W012", "security.W016"]
)

# --- cloud functions: deploys, executions, triggers -----------------------------------------
BAAS_FUNCTIONS_MAX_SOURCE_BYTES = env_int("BAAS_FUNCTIONS_MAX_SOURCE_BYTES", 1024 * 1024)
BAAS_FUNCTIONS_MAX_FILES = env_int("BAAS_FUNCTIONS_MAX_FILES", 64)
BAAS_FUNCTIONS_MAX_TIMEOUT_SECONDS = env_int("BAAS_FUNCTIONS_MAX_TIMEOUT_SECONDS", 540)
BAAS_FUNCTIONS_MAX_MEMORY_MB = env_int("BAAS_FUNCTIONS_MAX_MEMORY_MB", 2048)
BAAS_FUNCTIONS_EXECUTION_RETENTION_DAYS = env_int("BAAS_FUNCTIONS_EXECUTION_RETENTION_DAYS", 7)
# A running execution whose worker died is requeued once its timeout plus this has passed.
BAAS_FUNCTIONS_LEASE_GRACE_SECONDS = env_int("BAAS_FUNCTIONS_LEASE_GRACE_SECONDS", 30)
# How often due schedules, lost executions and retention are looked at (beat).
BAAS_FUNCTIONS_TICK_SECONDS = float(env_str("BAAS_FUNCTIONS_TICK_SECONDS", "5"))
BAAS_FUNCTIONS_RETRY_MAX_ATTEMPTS = env_int("BAAS_FUNCTIONS_RETRY_MAX_ATTEMPTS", 5)
BAAS_FUNCTIONS_RETRY_BASE_SECONDS = float(env_str("BAAS_FUNCTIONS_RETRY_BASE_SECONDS", "1"))
BAAS_FUNCTIONS_RETRY_MAX_DELAY_SECONDS = float(env_str("BAAS_FUNCTIONS_RETRY_MAX_DELAY_SECONDS", "600"))
# --- cloud functions: the sandbox that runs user code (docs/functions-sandbox.md) ---------
# auto: bubblewrap when it works here, else plain processes (logged once); bwrap: required.
BAAS_FUNCTIONS_SANDBOX = env_str("BAAS_FUNCTIONS_SANDBOX", "auto").lower()
# Outbound network from functions (payment and maps APIs); 0 gives them no network at all.
BAAS_FUNCTIONS_ALLOW_NETWORK = env_bool("BAAS_FUNCTIONS_ALLOW_NETWORK", True)
# Warm sandbox processes kept ready per worker process (0: start one per invocation).
BAAS_FUNCTIONS_POOL_SIZE = env_int("BAAS_FUNCTIONS_POOL_SIZE", 2)
# An execution's stdout and stderr are each kept up to this many bytes.
BAAS_FUNCTIONS_LOG_LIMIT = env_int("BAAS_FUNCTIONS_LOG_LIMIT", 65536)
# Largest control message (an event, a ctx call or its answer, a return value).
BAAS_FUNCTIONS_MESSAGE_LIMIT = env_int("BAAS_FUNCTIONS_MESSAGE_LIMIT", 8 * 1024 * 1024)
# Largest file a function may write (RLIMIT_FSIZE), its output included.
BAAS_FUNCTIONS_FILE_SIZE_LIMIT = env_int("BAAS_FUNCTIONS_FILE_SIZE_LIMIT", 64 * 1024 * 1024)
# Interpreter for user code; default: the platform's base Python, outside its virtualenv.
BAAS_FUNCTIONS_PYTHON = env_str("BAAS_FUNCTIONS_PYTHON", "")

# --- logging: one JSON object per line, with the request id -----------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "baas.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # 4xx answers are the API working as designed; 5xx are logged with the request id.
        "django.request": {"level": "ERROR"},
        "daphne": {"level": "WARNING"},
        "celery": {"level": "WARNING"},
    },
}
