"""Settings for IoT Hub Console, read from the environment.

Defaults give a working single-machine set-up with SQLite; every variable that is
set but malformed raises ImproperlyConfigured naming it, so a typo fails loudly at
start-up rather than quietly changing behaviour.
"""

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# One configuration for the console, the worker and the broker: the environment,
# else a `.env` file at the repository root (the environment wins).
load_dotenv(BASE_DIR / ".env", override=False)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)


def secret_from_env_or_file(
    name: str, path: Path, generate: Callable[[], str | bytes] = lambda: secrets.token_urlsafe(50)
) -> str:
    """A secret from the environment, else from a file made on first start.

    The file keeps a single-machine set-up working across restarts with nothing
    to configure; it is created readable by its owner only and is not committed.
    """
    value = os.environ.get(name, "")
    if value:
        return value
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    generated = generate()
    value = generated.decode("ascii") if isinstance(generated, bytes) else generated
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value)
    return value


SECRET_KEY = secret_from_env_or_file("DJANGO_SECRET_KEY", BASE_DIR / ".secret_key")
# The bearer token of the /broker/v1/ endpoints. Derived from the secret key unless
# set, so console processes agree with nothing to share; `run_broker` writes it into
# the broker's state directory, readable by the broker alone.
IOTHUB_BROKER_TOKEN = (
    os.environ.get("IOTHUB_BROKER_TOKEN")
    or hmac.new(SECRET_KEY.encode(), b"iothub-console broker token", hashlib.sha256).hexdigest()
)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "iothub_console",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_tasks",
    "accounts",
    "certificates",
    "products",
    "lifecycle",
    "broker",
    "api",
    "batches",
    "audit",
]

MIDDLEWARE = [
    # First: tccli's Host header carries a scheme, which any get_host() would refuse.
    "api.middleware.SignedHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.middleware.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Last: it turns a locked-out sign-in into the sign-in page saying so.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "iothub_console.urls"

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
                "iothub_console.context_processors.console",
            ],
        },
    },
]

WSGI_APPLICATION = "iothub_console.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes SQLite's write lock when a transaction starts, so two requests
    # that count rows and then insert (the per-account CA limit) run one after the
    # other instead of failing with "database is locked" half-way.
    # WAL lets the server, the task workers and the broker's status writes read while
    # one of them writes; in the default rollback journal a writer that spills its
    # cache (a batch chunk) blocks every reader until it commits.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests use a file, not shared memory, so threads in the race tests lock it
    # the same way two server processes would; one file per test run.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in throttling (django-axes): after IOTHUB_SIGNIN_FAILURE_LIMIT failures for
# one account, or from one address, sign-in is refused there (even with the right
# password) for IOTHUB_SIGNIN_COOLOFF_MINUTES. The API's signed requests do not
# sign in, so the API door is not throttled by this.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("IOTHUB_SIGNIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("IOTHUB_SIGNIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.throttling.locked_out"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": os.environ.get(
            "DJANGO_STATICFILES_STORAGE",
            "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
if DEBUG:
    STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Uploads stay in memory, never in the temporary directory, so an upload cut off
# half-way (or a killed server) leaves no file behind. The largest legitimate
# upload is a batch's certificate ZIP (64 MiB, refused above that by its form with
# a message); a request bigger than that and its other fields is refused whole,
# unread, with a page that says why, so memory per request stays bounded.
FILE_UPLOAD_HANDLERS = ["iothub_console.uploads.MemoryOnlyUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 65 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Production behind a TLS-terminating proxy (IOTHUB_BEHIND_TLS_PROXY=true): the
# proxy says the scheme in X-Forwarded-Proto; cookies are Secure, plain HTTP is
# redirected, and browsers are told to use HTTPS only for a year (HSTS).
IOTHUB_BEHIND_TLS_PROXY = env_bool("IOTHUB_BEHIND_TLS_PROXY", False)
if IOTHUB_BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # The broker's plugin calls the console directly on loopback, not through the proxy.
    SECURE_REDIRECT_EXEMPT = [r"^broker/v1/"]  # broker.endpoints.PATH_PREFIX
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("IOTHUB_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("IOTHUB_HSTS_PRELOAD", True)

# Content-Security-Policy: the console's pages load scripts, styles, fonts and
# images from the console alone, with no inline script or style. Bootstrap draws
# its form controls' icons as data: SVG images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Background tasks (Django's Tasks API through the django-tasks backport). The
# database backend needs nothing else; `manage.py db_worker` runs its tasks. For
# several machines: IOTHUB_TASKS_BACKEND=django_tasks_rq.RQBackend (see README).
TASKS_BACKEND = os.environ.get("IOTHUB_TASKS_BACKEND", "django_tasks_db.DatabaseBackend")
TASKS = {"default": {"BACKEND": TASKS_BACKEND, "QUEUES": ["default"]}}
# After batches, whose db_worker and rqworker commands (the same, resuming batches
# whose worker died) take the place of the backends' own.
INSTALLED_APPS += ["django_tasks_db"]
if TASKS_BACKEND.startswith("django_tasks_rq."):
    # Redis through RQ (in requirements.txt; workers: `manage.py rqworker --job-class
    # django_tasks_rq.Job default`; make test runs the batch tests this way too).
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    RQ_QUEUES = {"default": {"URL": os.environ.get("IOTHUB_REDIS_URL", "redis://127.0.0.1:6379/0")}}
# A running batch whose worker gave no sign of life for this long (killed, machine
# gone) is queued again by the next worker, or by the Resume button on its page.
IOTHUB_BATCH_STALLED_SECONDS = env_int("IOTHUB_BATCH_STALLED_SECONDS", 60)
if IOTHUB_BATCH_STALLED_SECONDS < 1:
    raise ImproperlyConfigured("IOTHUB_BATCH_STALLED_SECONDS must be at least 1")

# Product settings.
IOTHUB_ALLOW_SIGNUP = env_bool("IOTHUB_ALLOW_SIGNUP", True)
IOTHUB_CA_LIMIT = 10
IOTHUB_AUTH_CODE_LIFETIME_HOURS = 24
IOTHUB_REGION = "Guangzhou"
IOTHUB_PRODUCT_LIMIT = 2000
# Tencent Cloud API requests per second, per API key and action (the reference's 20).
IOTHUB_API_RATE_LIMIT = env_int("IOTHUB_API_RATE_LIMIT", 20)
IOTHUB_DEVICES_PER_PAGE = 20
IOTHUB_MQTT_HOST = os.environ.get("IOTHUB_MQTT_HOST", "127.0.0.1")
IOTHUB_MQTT_PORT = env_int("IOTHUB_MQTT_PORT", 8883)
# The address Mosquitto listens on; the host devices dial may be a name for it.
IOTHUB_MQTT_BIND_ADDRESS = os.environ.get("IOTHUB_MQTT_BIND_ADDRESS", "127.0.0.1")
IOTHUB_BROKER_DIR = Path(os.environ.get("IOTHUB_BROKER_DIR", BASE_DIR / "broker-config"))
# Key (PSK) devices: TLS with server authentication only, since Mosquitto cannot ask
# for a client certificate on a listener without requiring one.
IOTHUB_MQTT_KEY_PORT = env_int("IOTHUB_MQTT_KEY_PORT", 8884)
for _name, _port in (("IOTHUB_MQTT_PORT", IOTHUB_MQTT_PORT), ("IOTHUB_MQTT_KEY_PORT", IOTHUB_MQTT_KEY_PORT)):
    if not 0 < _port < 65536:
        raise ImproperlyConfigured(f"{_name} must be a TCP port, not {_port}")
if IOTHUB_MQTT_PORT == IOTHUB_MQTT_KEY_PORT:
    raise ImproperlyConfigured("IOTHUB_MQTT_PORT and IOTHUB_MQTT_KEY_PORT must differ")
# Where the broker's plugin reaches the console's /broker/v1/ endpoints.
IOTHUB_CONSOLE_URL = os.environ.get("IOTHUB_CONSOLE_URL", "http://127.0.0.1:8000").rstrip("/")
# Where devices and verifiers reach the console from outside: the Platform CAs' CRL
# Distribution Points in the certificates the console issues are under it.
IOTHUB_PUBLIC_URL = os.environ.get("IOTHUB_PUBLIC_URL", IOTHUB_CONSOLE_URL).rstrip("/")

# Fernet key that encrypts private keys and PSKs at rest. Losing it makes stored
# keys unreadable, so it lives apart from the database (environment or a file).
IOTHUB_ENCRYPTION_KEY = secret_from_env_or_file(
    "IOTHUB_ENCRYPTION_KEY", BASE_DIR / ".encryption_key", generate=Fernet.generate_key
)
try:
    Fernet(IOTHUB_ENCRYPTION_KEY)
except ValueError:
    raise ImproperlyConfigured(
        "IOTHUB_ENCRYPTION_KEY must be a Fernet key: 32 url-safe base64-encoded bytes"
    ) from None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    # django-axes reports every sign-in at INFO; lock-outs and repeated failures are warnings.
    "loggers": {"axes": {"level": "WARNING"}},
}
