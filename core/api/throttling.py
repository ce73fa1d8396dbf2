"""Per API client request budget: 429 with ``Retry-After`` when it is spent.

The rate is ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_client"]`` (from
``CROSSSELL_API_RATE``, e.g. ``200000/min``), read when the throttle is used rather than
at import, so a changed setting takes effect at once.

DRF's ``SimpleRateThrottle`` keeps every request time of the window in one cache entry
and rewrites it on each request: at the rates channel systems need (hundreds a second)
that list holds tens of thousands of timestamps, pickled twice per request. This one
counts requests in fixed windows instead — one atomic increment per request, whatever
the rate; a client may burst up to twice the rate across a window boundary, the usual
price of fixed windows.

The counters live in Django's default cache, which in production is a Redis (often the
broker's). A throttle must not take the API down with it: when the cache cannot be
reached (any error from it), the request is counted in this process's memory instead —
same rate, same windows, so each process enforces the limit on its own share of the
traffic — a warning is logged at most once a minute, and the cache is left alone for
``CACHE_RETRY_SECONDS`` (no connect timeout paid on every request) before it is tried
again.

With Django's Redis cache the count is one pipelined round trip (``SET NX EX`` then
``INCR``) on a client kept per process: Django's own ``add`` then ``incr`` is two round
trips, and builds a new Redis client object for each (about 0.3 ms of CPU apiece with
redis-py 5, a third of a bare API request's budget).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from django.core.cache import cache as default_cache
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core.api.ratelog import RateLimitedLog

logger = logging.getLogger(__name__)

DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
CACHE_RETRY_SECONDS = 5.0


def _now() -> float:
    return time.time()


class LocalCounter:
    """Fixed-window request counts in process memory: the throttle's fallback."""

    SWEEP_SECONDS = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[float, int]] = {}  # key -> (window end, count)
        self._next_sweep = 0.0

    def incr(self, key: str, *, window_end: float, now: float) -> int:
        with self._lock:
            if now >= self._next_sweep:  # forget ended windows, once a second at most
                self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
                self._next_sweep = now + self.SWEEP_SECONDS
            count = self._counts.get(key, (window_end, 0))[1] + 1
            self._counts[key] = (window_end, count)
            return count

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._next_sweep = 0.0


class _Fallback:
    """Per process: whether the shared cache is being left alone, and the local counts."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.counter = LocalCounter()
        self.log = RateLimitedLog(logger, 60.0, clock=lambda: self.clock())
        self.retry_at = 0.0  # the clock's time before which the cache is not tried

    def cache_usable(self) -> bool:
        return self.clock() >= self.retry_at

    def cache_failed(self, exc: Exception) -> None:
        self.retry_at = self.clock() + CACHE_RETRY_SECONDS
        self.log.log(
            logging.WARNING,
            "throttle cache unreachable (%s: %s); counting requests per process in memory",
            type(exc).__name__,
            exc,
        )

    def reset(self) -> None:
        self.counter.clear()
        self.log.reset()
        self.retry_at = 0.0


fallback = _Fallback()


_redis_clients: weakref.WeakKeyDictionary[RedisCache, Any] = weakref.WeakKeyDictionary()


def _redis_count(backend: RedisCache, key: str, period: int) -> int:
    """The window's count after this request, in one round trip to the cache's Redis."""
    client = _redis_clients.get(backend)
    if client is None:
        # The writer's client, as Django's cache would use for add/incr; thread-safe, and
        # its connection pool reconnects in a forked worker.
        client = _redis_clients.setdefault(backend, backend._cache.get_client(write=True))
    name = backend.make_and_validate_key(key)
    pipe = client.pipeline(transaction=False)
    pipe.set(name, 0, ex=period + 1, nx=True)
    pipe.incr(name)
    return int(pipe.execute()[1])


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """'200000/min' -> (200000, 60); None for no limit."""
    if not rate:
        return None
    count, period = rate.split("/")
    return int(count), DURATIONS[period.strip()[0]]


class ApiClientRateThrottle(BaseThrottle):
    scope = "api_client"
    cache = default_cache

    def __init__(self) -> None:
        self._wait = 0.0

    def rate(self) -> tuple[int, int] | None:
        # drf-stubs type the rates as numbers; DRF's rates are "count/period" strings
        return parse_rate(api_settings.DEFAULT_THROTTLE_RATES.get(self.scope))  # type: ignore[arg-type]

    def ident(self, request) -> str:
        client = getattr(request, "auth", None)
        if client is not None and getattr(client, "pk", None) is not None:
            return f"client:{client.pk}"
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        rate = self.rate()
        if rate is None:
            return True
        limit, period = rate
        now = _now()
        window = int(now // period)
        key = f"throttle:{self.scope}:{self.ident(request)}:{window}"
        count = None
        if fallback.cache_usable():
            try:
                count = self._shared_count(key, period)
            except Exception as exc:  # whatever the cache raises, the request goes on
                fallback.cache_failed(exc)
        if count is None:
            count = fallback.counter.incr(key, window_end=(window + 1) * period, now=now)
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def _shared_count(self, key: str, period: int) -> int:
        backend = caches["default"] if self.cache is default_cache else self.cache
        if isinstance(backend, RedisCache):
            return _redis_count(backend, key, period)
        # add() is a no-op when the key exists; incr() is atomic in every Django cache
        # (per process for the local-memory one).
        self.cache.add(key, 0, timeout=period + 1)
        try:
            return self.cache.incr(key)
        except ValueError:  # evicted between add and incr
            self.cache.set(key, 1, timeout=period + 1)
            return 1

    def wait(self) -> float:
        return max(self._wait, 0.0)
