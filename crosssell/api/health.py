"""Is the service able to work, dependency by dependency.

- ``database``: ``ok`` or ``down`` (``SELECT 1``). Down is the one state in which the
  API cannot do its job: the endpoint then answers 503 so load balancers take the
  instance out. Everything else only makes ``status`` ``degraded``.
- ``broker``: ``eager`` without a broker (tasks run in-process), else a Redis ping —
  ``ok`` or ``down`` (cached for a second per process).
- ``workers``: the newest ``WorkerHeartbeat`` (beat has a worker write one every 30 s):
  ``ok`` when younger than ``HEARTBEAT_STALE_AFTER_SECONDS``, ``stale`` when older,
  ``none`` when no worker ever wrote one, ``eager`` when tasks run in-process, ``unknown``
  when the database cannot say; ``worker_heartbeat_age_seconds`` is its age.
- ``sealer_lag_seconds``: the age of the oldest audit record no seal covers yet (0 when
  all are sealed; null when the database cannot say). Over the ledger's stale threshold
  (``CROSSSELL_AUDIT_STALE_AFTER_SECONDS``) the sealer is behind or stopped.

Each probe is a handful of primary-key or index lookups, so health stays cheap however
large the ledger grows; none of it ever raises.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

import crosssell
from core.api.exceptions import DATABASE_UNAVAILABLE
from crosssell.models import WorkerHeartbeat
from ledger.models import AuditRecord, AuditSeal, AuditSealerState

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 0.25
# Under load every probe would ping Redis; one answer per second per process is enough.
BROKER_CACHE_SECONDS = 1.0
# Beat asks for a heartbeat every 30 s: three missed ones make the workers stale.
HEARTBEAT_STALE_AFTER_SECONDS = 90
# The ledger's own threshold for a record waiting too long for a seal (its default).
DEFAULT_SEALER_STALE_AFTER_SECONDS = 60
# The sealer's open gaps are looked at one seq range per query, the lowest first; past
# this many ranges the rest are looked at as one.
MAX_GAP_QUERIES = 16

WORKER_STATES = ("ok", "stale", "none", "eager", "unknown")
# What a probe may meet: a database that is down (InterfaceError is no DatabaseError in
# Django), or one that answers with an error.
_DB_ERRORS: tuple[type[Exception], ...] = (DatabaseError, *DATABASE_UNAVAILABLE)

_lock = threading.Lock()
_client: Any = None
_client_url = ""
_cached: tuple[float, str] | None = None


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except _DB_ERRORS:
        logger.exception("health: database check failed")
        return "down"
    return "ok"


def _redis_client(url: str):
    global _client, _client_url
    if _client is None or _client_url != url:
        import redis

        _client = redis.Redis.from_url(
            url,
            socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
            socket_timeout=BROKER_TIMEOUT_SECONDS,
            retry_on_timeout=False,
        )
        _client_url = url
    return _client


def broker_status() -> str:
    """``eager`` without a broker (tasks run in-process), else ``ok`` or ``down``."""
    global _cached
    url = settings.CELERY_BROKER_URL
    if not url:
        return "eager"
    now = time.monotonic()
    cached = _cached
    if cached is not None and now - cached[0] < BROKER_CACHE_SECONDS:
        return cached[1]
    with _lock:
        try:
            status = "ok" if _redis_client(url).ping() else "down"
        except Exception:  # any failure to reach the broker means it is down
            logger.warning("health: broker ping failed", exc_info=True)
            status = "down"
        _cached = (time.monotonic(), status)
    return status


def reset_cache() -> None:
    global _cached
    _cached = None


def _seconds(since: datetime, now: datetime) -> float:
    return round(max(0.0, (now - since).total_seconds()), 1)


def worker_status(now: datetime) -> tuple[str, float | None]:
    """(state, age of the newest heartbeat in seconds) — one index lookup."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager", None
    try:
        seen_at = (
            WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
        )
    except _DB_ERRORS:
        logger.warning("health: worker heartbeat check failed", exc_info=True)
        return "unknown", None
    if seen_at is None:
        return "none", None
    age = _seconds(seen_at, now)
    return ("ok" if age <= HEARTBEAT_STALE_AFTER_SECONDS else "stale"), age


def _unsealed_windows() -> list[tuple[int, int | None]]:
    """The seq ranges where unsealed records can be, lowest first, from the sealer's own
    bookkeeping: its open gaps, then everything above its high-water mark."""
    state = (
        AuditSealerState.objects.filter(pk=1, last_run_at__isnull=False)
        .values_list("high_water_seq", "open_gaps")
        .first()
    )
    if state is None:  # the sealer has not run (or lost its row): start above the seals
        high = AuditSeal.objects.order_by("-seq").values_list("last_record_seq", flat=True).first()
        return [((high or 0) + 1, None)]
    high, gaps = state
    ranges = sorted((int(gap[0]), int(gap[1])) for gap in gaps or [])
    if len(ranges) > MAX_GAP_QUERIES:
        rest = ranges[MAX_GAP_QUERIES - 1 :]
        ranges = [*ranges[: MAX_GAP_QUERIES - 1], (rest[0][0], max(r[1] for r in rest))]
    return [*ranges, (high + 1, None)]


def sealer_lag_seconds(now: datetime) -> float | None:
    """Age in seconds of the oldest audit record without a seal (0 when none is
    waiting); None when the database cannot say.

    Each query is a primary-key range scan anti-joined to the membership's primary key,
    in seq order and stopping at the first hit, so it costs what is unsealed, not the
    size of the ledger. A record the sealer gave up on (a transaction that outlived the
    gap retention) is the hourly full sweep's to find, not this probe's.
    """
    try:
        for first, last in _unsealed_windows():
            waiting = AuditRecord.objects.filter(seq__gte=first, membership__isnull=True)
            if last is not None:
                waiting = waiting.filter(seq__lte=last)
            created_at = waiting.order_by("seq").values_list("created_at", flat=True).first()
            if created_at is not None:
                return _seconds(created_at, now)
    except _DB_ERRORS:
        logger.warning("health: audit sealer check failed", exc_info=True)
        return None
    return 0.0


def sealer_stale_after_seconds() -> int:
    return int(
        getattr(settings, "CROSSSELL_AUDIT_STALE_AFTER_SECONDS", DEFAULT_SEALER_STALE_AFTER_SECONDS)
    )


def health_status() -> tuple[dict[str, Any], bool]:
    """The health document, and whether the database is up (503 when it is not)."""
    now = timezone.now()
    database = database_status()
    broker = broker_status()
    if database == "ok":
        workers, heartbeat_age = worker_status(now)
        lag = sealer_lag_seconds(now)
    else:
        workers = "eager" if settings.CELERY_TASK_ALWAYS_EAGER else "unknown"
        heartbeat_age, lag = None, None
    ok = (
        database == "ok"
        and broker != "down"
        and workers in ("ok", "eager")
        and lag is not None
        and lag <= sealer_stale_after_seconds()
    )
    return (
        {
            "status": "ok" if ok else "degraded",
            "database": database,
            "broker": broker,
            "version": crosssell.__version__,
            "workers": workers,
            "worker_heartbeat_age_seconds": heartbeat_age,
            "sealer_lag_seconds": lag,
        },
        database == "ok",
    )
