"""``GET /metrics``: Prometheus's text format, for the scraper only.

What it serves: every counter and histogram of this process — or, under gunicorn with
``PROMETHEUS_MULTIPROC_DIR``, of every process writing to that directory (prometheus_client's
multiprocess mode) — then the database gauges of ``collector.DatabaseCollector``, read at
this scrape.

Who may read it (docs/RELIABILITY.md, "Operators can see"):

- ``CROSSSELL_METRICS_OPEN`` (dev and test; production forces it off): anyone;
- else each configured check must pass: the client address (as ``CROSSSELL_PROXY_COUNT``
  reads it) within ``CROSSSELL_METRICS_ALLOWED_NETWORKS``, else 403; and
  ``Authorization: Bearer <CROSSSELL_METRICS_TOKEN>``, else 401;
- with neither configured, nobody: 403.

It is a plain Django view: no API authentication or throttle, and nothing here touches
the session or the user, so the session and auth middleware do no work for it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from crosssell.observability.collector import DatabaseCollector
from crosssell.views import login_client_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _ProcessMetrics(Collector):
    """This process's default registry, as one collector of the scrape's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    registry.register(DatabaseCollector())
    return registry


@lru_cache(maxsize=8)
def _networks(configured: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in configured)


def _in_networks(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _bearer_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def refusal(request: HttpRequest) -> HttpResponse | None:
    """Why this request may not read the metrics (the answer to give), or None."""
    if settings.CROSSSELL_METRICS_OPEN:
        return None
    networks = _networks(tuple(settings.CROSSSELL_METRICS_ALLOWED_NETWORKS))
    token = settings.CROSSSELL_METRICS_TOKEN
    if not networks and not token:
        return HttpResponse(
            "Metrics are closed: no allowed network or token is configured.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    if networks and not _in_networks(login_client_ip(request), networks):
        return HttpResponse(
            "Metrics are not served to this address.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    if token and not _bearer_matches(request, token):
        response = HttpResponse(
            "Metrics need the scraper's bearer token.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return None


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    refused = refusal(request)
    if refused is not None:
        return refused
    response = HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
