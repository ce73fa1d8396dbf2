"""Settings shared by every environment.

With nothing configured the project runs on a SQLite file under ``var/`` with Celery
tasks run eagerly in-process. ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch it to
PostgreSQL and Redis with separate workers.
"""

import datetime
import ipaddress
import logging
from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE
from environs import ValidationError, validate

from core.env import NO_EMPTY_ITEMS, Env, sqlite_database
from core.logs import FORMATS as LOG_FORMATS
from core.logs import configure_structlog, logging_config

# Every read below is strict: a malformed value stops start-up naming the variable.
env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = env.path("CROSSSELL_VAR_DIR", BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", "crosssell-embedded-development-key-not-for-production")
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    ["127.0.0.1", "localhost", "testserver"],
    subcast=str.strip,
    validate=NO_EMPTY_ITEMS,
)
CSRF_TRUSTED_ORIGINS = env.list(
    "DJANGO_CSRF_TRUSTED_ORIGINS", [], subcast=str.strip, validate=NO_EMPTY_ITEMS
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "simple_history",
    "django_htmx",
    "csp",
    "axes",
    "django_prometheus",
    "core",
    "ledger",
    "crosssell",
    "customers",
    "compliance",
    "offers",
    "campaigns",
    "decisioning",
    "results",
    "demo",
]

MIDDLEWARE = [
    # First and (but for axes) last: request latency and counts by view and status.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.middleware.RequestIdMiddleware",
    "core.middleware.ApiBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The "Console*" ones are Django's, django-csp's, django-htmx's and simple_history's,
    # skipped on the token-authenticated API under /api/v1/ (core.middleware.ConsoleOnly).
    "core.middleware.ConsoleCSPMiddleware",
    "core.middleware.ConsoleSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "core.middleware.ConsoleAuthenticationMiddleware",
    "core.middleware.ConsoleMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.ConsoleHtmxMiddleware",
    "core.middleware.ConsoleHistoryRequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crosssell.urls"
WSGI_APPLICATION = "crosssell.wsgi.application"

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
    }
]

DATABASES = {
    "default": {
        **env.database("DATABASE_URL", sqlite_database(VAR_DIR / "crosssell.sqlite3")),
        # A web or Celery process keeps its connection across requests and tasks: a new
        # one per request cost PostgreSQL a backend start and lost the prepared context
        # query (core.db) each time. Checked before reuse, so a restarted database costs
        # a reconnect, not a failed request. 0 closes it after every request.
        "CONN_MAX_AGE": env.int(
            "CROSSSELL_DB_CONN_MAX_AGE", 300, validate=validate.Range(min=0, max=86_400)
        ),
        "CONN_HEALTH_CHECKS": True,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The decision path's context query is prepared once per connection (core.db); false
# behind a transaction-mode pooler that does not track prepared statements.
CROSSSELL_PREPARED_STATEMENTS = env.bool("CROSSSELL_PREPARED_STATEMENTS", True)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# django-axes refuses sign-in first while a username is locked out; ModelBackend checks the
# password. The API authenticates with keys (core.api.auth), never through these.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes, on the console's and the admin's sign-in): after
# CROSSSELL_LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that
# pair is refused for CROSSSELL_LOGIN_LOCKOUT_MINUTES, the sign-in page saying so (each
# try while locked starts the wait again). Signing in clears the count; an administrator
# unlocks early with `manage.py axes_reset_username USERNAME` (or `axes_reset` for all).
AXES_ENABLED = True
AXES_FAILURE_LIMIT = env.int("CROSSSELL_LOGIN_FAILURE_LIMIT", 5, validate=validate.Range(min=1))
AXES_COOLOFF_TIME = datetime.timedelta(
    minutes=env.int("CROSSSELL_LOGIN_LOCKOUT_MINUTES", 15, validate=validate.Range(min=1))
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crosssell.views.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "crosssell.views.login_client_ip"
# How many reverse proxies in front of the app append the client's address to
# X-Forwarded-For; 0: clients connect directly and REMOTE_ADDR is theirs.
CROSSSELL_PROXY_COUNT = env.int("CROSSSELL_PROXY_COUNT", 0, validate=validate.Range(min=0))

# Content-Security-Policy (django-csp): scripts and styles only from the app's own static
# files, no inline script and no eval (base.html's htmx-config keeps htmx from needing
# either, or injecting a <style>). Inline style *attributes* stay allowed (style-src-attr)
# for the widths of progress and distribution bars; <style> elements are not. The API docs
# page widens this on its own view (crosssell.api.views.ApiDocsView).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []

# Bank-wide product settings.
BANK_TIME_ZONE = env.time_zone("CROSSSELL_BANK_TIME_ZONE", "Europe/Lisbon")
IDENTITY_MIN_CONFIDENCE = env.float(
    "CROSSSELL_IDENTITY_MIN_CONFIDENCE", 0.9, validate=validate.Range(0.0, 1.0)
)
# Event types campaigns may trigger on besides the known ones and those channels have sent
# (customers/events.py): a new signal a channel is about to send (comma separated).
CROSSSELL_EXTRA_EVENT_TYPES = env.list(
    "CROSSSELL_EXTRA_EVENT_TYPES", [], subcast=str.strip, validate=NO_EMPTY_ITEMS
)
# A service action no outbound channel can deliver waits this long for an inbound visit.
OWED_ACTION_DAYS = env.int("CROSSSELL_OWED_ACTION_DAYS", 30, validate=validate.Range(min=1))
DECISION_TTL_SECONDS = env.int(
    "CROSSSELL_DECISION_TTL_SECONDS", 900, validate=validate.Range(min=1)
)
API_MAX_BODY_BYTES = 1024 * 1024
# Content pre-checks refuse these phrases (comma separated; empty = the built-in list).
CROSSSELL_BANNED_PHRASES = (
    env.list("CROSSSELL_BANNED_PHRASES", [], subcast=str.strip, validate=NO_EMPTY_ITEMS) or None
)
# How long the ledger sealer waits for an uncommitted sequence gap before giving up on it.
CROSSSELL_AUDIT_GAP_RETENTION_SECONDS = env.int(
    "CROSSSELL_AUDIT_GAP_RETENTION_SECONDS", 3600, validate=validate.Range(min=1)
)
# Records waiting longer than this for a seal make verification fail (the sealer is down).
CROSSSELL_AUDIT_STALE_AFTER_SECONDS = env.int(
    "CROSSSELL_AUDIT_STALE_AFTER_SECONDS", 60, validate=validate.Range(min=1)
)
# Seal in the writing process after commit (ledger.autoseal): "auto" = exactly when there
# is no broker (the embedded default, no beat); "on" / "off" force it.
CROSSSELL_AUDIT_AUTOSEAL = env.str(
    "CROSSSELL_AUDIT_AUTOSEAL", "auto", validate=validate.OneOf(["auto", "on", "off"])
)
# Campaign results (results/): a conversion counts when the customer opens the offered
# product within this many days of the decision's day, for treated and control alike.
CROSSSELL_RESULTS_ATTRIBUTION_DAYS = env.int(
    "CROSSSELL_RESULTS_ATTRIBUTION_DAYS", 30, validate=validate.Range(min=1, max=365)
)
# Pseudonymous customer references in the audit ledger are keyed HMACs of the bank's id.
PSEUDONYM_KEY = env.str("CROSSSELL_PSEUDONYM_KEY", SECRET_KEY)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "crosssell",
    }
}

# Celery: eager in-process unless a broker is configured.
CELERY_BROKER_URL = env.redis_url("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Workers consume this queue; separate deployments (or CI runs) sharing a Redis keep apart.
CELERY_TASK_DEFAULT_QUEUE = env.str("CROSSSELL_TASK_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task a worker took but never acknowledged (the worker was killed) goes back to the
# queue after this many seconds. It must exceed the longest task (training: an hour) and
# any retry countdown, or Redis hands a running task to a second worker. Work the
# database holds (events, run chunks) does not wait for it: the sweeper re-dispatches it
# within CROSSSELL_SWEEPER_THRESHOLD_SECONDS + CROSSSELL_SWEEPER_INTERVAL_SECONDS.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int(
        "CROSSSELL_BROKER_VISIBILITY_TIMEOUT_SECONDS", 7200, validate=validate.Range(min=60)
    ),
    # An unreachable Redis host costs an enqueue seconds, not a hung request.
    "socket_connect_timeout": 1.0,
}
# Publishing while Redis is down gives up after about a second: the work is already in
# the database and the sweeper enqueues it once the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0.0,
    "interval_step": 0.25,
    "interval_max": 0.5,
}
# The outbox sweeper (decisioning/outbox.py, `manage.py sweep`): every INTERVAL seconds it
# re-dispatches accepted events and batch-run chunks whose last dispatch is older than
# THRESHOLD, takes over chunks a worker claimed more than CHUNK_LEASE seconds ago without
# a result, and marks a run failed once one of its chunks failed CHUNK_MAX_FAILURES times.
CROSSSELL_SWEEPER_INTERVAL_SECONDS = env.float(
    "CROSSSELL_SWEEPER_INTERVAL_SECONDS", 30.0, validate=validate.Range(min=0.1)
)
CROSSSELL_SWEEPER_THRESHOLD_SECONDS = env.float(
    "CROSSSELL_SWEEPER_THRESHOLD_SECONDS", 60.0, validate=validate.Range(min=0.1)
)
# Longer than the longest chunk takes (a 50,000-customer chunk takes seconds).
CROSSSELL_RUN_CHUNK_LEASE_SECONDS = env.float(
    "CROSSSELL_RUN_CHUNK_LEASE_SECONDS", 120.0, validate=validate.Range(min=0.1)
)
CROSSSELL_RUN_CHUNK_MAX_FAILURES = env.int(
    "CROSSSELL_RUN_CHUNK_MAX_FAILURES", 3, validate=validate.Range(min=1)
)
# An event still not processed after this many re-dispatches is left for an operator
# (logged at each sweep, counted in the sweep's report) instead of being queued forever.
CROSSSELL_SWEEPER_MAX_EVENT_DISPATCHES = env.int(
    "CROSSSELL_SWEEPER_MAX_EVENT_DISPATCHES", 10, validate=validate.Range(min=1)
)
# Propensity models (decisioning/learning/): attribute names the bank declares as proxies
# of a protected attribute (never features of a credit product's model, like gender or
# marital status themselves); the window of recently scored customers the drift check
# compares with the training data; cold-start exploration — offers shown fewer than
# CROSSSELL_EXPLORATION_MAX_PRESENTED times are scored by a Thompson draw from their
# Beta posterior in this share of decisions.
CROSSSELL_PROTECTED_PROXIES = env.list(
    "CROSSSELL_PROTECTED_PROXIES", ["marital", "sex"], subcast=str.strip, validate=NO_EMPTY_ITEMS
)
CROSSSELL_DRIFT_WINDOW_DAYS = env.int(
    "CROSSSELL_DRIFT_WINDOW_DAYS", 7, validate=validate.Range(min=1, max=365)
)
CROSSSELL_EXPLORATION_SHARE = env.float(
    "CROSSSELL_EXPLORATION_SHARE", 0.1, validate=validate.Range(min=0.0, max=1.0)
)
CROSSSELL_EXPLORATION_MAX_PRESENTED = env.int(
    "CROSSSELL_EXPLORATION_MAX_PRESENTED", 200, validate=validate.Range(min=0)
)
CELERY_BEAT_SCHEDULE: dict = {
    "worker-heartbeat": {"task": "crosssell.worker_heartbeat", "schedule": 30.0},
    "journey-absence-triggers": {"task": "decisioning.absence_triggers", "schedule": 300.0},
    # Work the database holds but the queue lost (broker restart, worker killed, a task
    # that gave up its retries) is enqueued again; a late sweep expires unrun.
    "outbox-sweep": {
        "task": "decisioning.sweep",
        "schedule": CROSSSELL_SWEEPER_INTERVAL_SECONDS,
        "options": {"expires": CROSSSELL_SWEEPER_INTERVAL_SECONDS},
    },
    # Batch campaigns with a crontab schedule start their runs (decisioning/runs/schedule.py).
    "scheduled-batch-runs": {
        "task": "decisioning.scheduled_runs",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    # Campaign results (results/tasks.py): today and yesterday every 15 minutes, the whole
    # attribution window nightly (conversions arrive for days after a decision).
    "results-kpis-recent": {
        "task": "results.compute_kpis",
        "schedule": 900.0,
        "kwargs": {"days": 2},
        "options": {"expires": 900},
    },
    "results-kpis-window": {
        "task": "results.compute_kpis",
        "schedule": crontab(minute=30, hour=2),
        "kwargs": {"days": None},
    },
    # Propensity models: every product retrained nightly (champion against challenger,
    # decisioning/learning/registry.py), and their inputs checked for drift every hour.
    "propensity-models-nightly": {
        "task": "decisioning.train_models",
        "schedule": crontab(minute=0, hour=3),
        "options": {"expires": 6 * 3600},
    },
    "propensity-model-drift": {
        "task": "decisioning.check_model_drift",
        "schedule": crontab(minute=30),
        "options": {"expires": 3600},
    },
    # The audit sealer: every record is sealed within seconds; a late one expires unrun.
    "seal-audit-ledger": {
        "task": "ledger.tasks.seal_audit_ledger",
        "schedule": 1.0,
        "options": {"expires": 10},
    },
    # Hourly, look over the whole ledger for records whose transaction outlived the
    # sealer's gap retention.
    "sweep-audit-ledger": {
        "task": "ledger.tasks.seal_audit_ledger",
        "schedule": 3600.0,
        "kwargs": {"full_sweep": True, "time_budget_seconds": 60.0},
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.DefaultPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.ApiClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_client": env.str(
            "CROSSSELL_API_RATE",
            "200000/min",
            # what core.api.throttling.parse_rate reads: a count per s/m/h/d(...)
            validate=validate.Regexp(
                r"^\d+/[smhd][a-z]*$", error="must be a count per period, such as 200000/min"
            ),
        )
    },
    "UNAUTHENTICATED_USER": None,
}
# Each process keeps an active API key's client this many seconds (core/api/auth.py), so
# a request does no key query; a key revoked elsewhere still works for up to this long in
# a process that used it (the revoking process forgets it at once). 0: read every time.
CROSSSELL_API_KEY_CACHE_SECONDS = env.float(
    "CROSSSELL_API_KEY_CACHE_SECONDS", 5.0, validate=validate.Range(min=0, max=300)
)

SPECTACULAR_SETTINGS = {
    "TITLE": "crosssell channel API",
    "DESCRIPTION": "The channel REST contract: signals, decisions, messages, responses.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # drf-spectacular's `check --deploy` hook generates the schema from these settings
    # alone, without the served view's (crosssell.api.views.SCHEMA_SETTINGS: enum names,
    # path prefix), so it warns about collisions the served schema resolves. The schema as
    # served is checked instead by tests/foundation/test_deploy.py.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

# Logs (core/logs.py): structlog renders every record, one JSON object per line with
# CROSSSELL_LOG_FORMAT=json (production's default), readable lines with "console".
LOG_LEVEL = env.log_level("CROSSSELL_LOG_LEVEL", logging.WARNING)
LOG_FORMAT = env.str("CROSSSELL_LOG_FORMAT", "console", validate=validate.OneOf(LOG_FORMATS))
# A level name (any case) or number; logging's own check would not name the variable.
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
configure_structlog()


def _ip_networks(values: list[str]) -> None:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValidationError(f"{value!r} is not an IP address or network") from None


# Metrics (crosssell/observability/views.py): GET /metrics in Prometheus's text format.
# Open to anyone here (dev, test); production.py closes it. When closed, every check that
# is configured must pass: the client address within CROSSSELL_METRICS_ALLOWED_NETWORKS
# (comma-separated addresses or CIDR networks) and `Authorization: Bearer` with
# CROSSSELL_METRICS_TOKEN; with neither configured nobody reads it.
CROSSSELL_METRICS_OPEN = env.bool("CROSSSELL_METRICS_OPEN", True)
CROSSSELL_METRICS_ALLOWED_NETWORKS = env.list(
    "CROSSSELL_METRICS_ALLOWED_NETWORKS",
    [],
    subcast=str.strip,
    validate=[NO_EMPTY_ITEMS, _ip_networks],
)
CROSSSELL_METRICS_TOKEN = env.str("CROSSSELL_METRICS_TOKEN", "")
# A Celery worker serves its own counters (tasks, the decisions it stores) on this port
# when set (0: not served); see crosssell/observability/task_signals.py.
CROSSSELL_WORKER_METRICS_PORT = env.int(
    "CROSSSELL_WORKER_METRICS_PORT", 0, validate=validate.Range(min=0, max=65535)
)
CROSSSELL_WORKER_METRICS_ADDRESS = env.str("CROSSSELL_WORKER_METRICS_ADDRESS", "127.0.0.1")
