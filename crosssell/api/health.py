"""Is the service able to work: the database answers, and the broker (when there is one)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

import crosssell

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 0.25
# Under load every probe would ping Redis; one answer per second per process is enough.
BROKER_CACHE_SECONDS = 1.0

_lock = threading.Lock()
_client: Any = None
_client_url = ""
_cached: tuple[float, str] | None = None


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
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


def health_status() -> tuple[dict[str, str], bool]:
    """The health document, and whether the database is up (503 when it is not)."""
    database = database_status()
    broker = broker_status()
    ok = database == "ok" and broker != "down"
    return (
        {
            "status": "ok" if ok else "degraded",
            "database": database,
            "broker": broker,
            "version": crosssell.__version__,
        },
        database == "ok",
    )
