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
"""

from __future__ import annotations

import time

from django.core.cache import cache as default_cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _now() -> float:
    return time.time()


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
        # add() is a no-op when the key exists; incr() is atomic in every Django cache
        # (per process for the local-memory one).
        self.cache.add(key, 0, timeout=period + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # evicted between add and incr
            self.cache.set(key, 1, timeout=period + 1)
            count = 1
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float:
        return max(self._wait, 0.0)
