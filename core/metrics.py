"""The product's own Prometheus metrics, counted where the work is done.

Every layer may import this module (it is the ground's plumbing): the decision store
counts decisions, releases and suppressions; the snapshot loader counts rebuilds; the
Celery hooks (``crosssell.observability.task_signals``) count task failures, retries and
durations. The gauges read from the database at scrape time live in the roof
(``crosssell.observability.collector``), which knows the models.

The metric objects are prometheus_client's. Under gunicorn (several worker processes)
set ``PROMETHEUS_MULTIPROC_DIR`` before start-up and each process writes its counts to
that directory, which ``/metrics`` reads as one (prometheus_client's multiprocess mode;
see docs/RELIABILITY.md, "Operators can see").

Labels only ever take values from closed sets (decision modes, reason codes, channel
codes, task names), never an id or anything a customer typed, so the number of series
stays bounded.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from functools import wraps
from typing import ParamSpec, Protocol, TypeVar

from prometheus_client import Counter, Histogram

P = ParamSpec("P")
R = TypeVar("R")

DECISIONS = Counter(
    "crosssell_decisions",
    "Decisions stored one at a time (inbound, event, absence), by mode and outcome.",
    ["mode", "outcome"],
)
OFFERS_RELEASED = Counter(
    "crosssell_offers_released",
    "Offers released by stored decisions, by channel (outbound ones are queued messages).",
    ["channel"],
)
SUPPRESSIONS = Counter(
    "crosssell_suppressions",
    "Candidate offers withheld by stored decisions, by the reason code that withheld them.",
    ["reason"],
)
# An inbound decision is asked for while a customer waits on the channel: the buckets
# are spread around its tens of milliseconds.
DECISION_LATENCY = Histogram(
    "crosssell_decision_latency_seconds",
    "Wall time of the decision service: context, engine and storage, by mode.",
    ["mode"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SNAPSHOT_REBUILDS = Counter(
    "crosssell_snapshot_rebuilds",
    "Engine snapshots built from the database (catalog moved, window passed, or a run's own).",
)
TASK_FAILURES = Counter(
    "crosssell_task_failures",
    "Celery tasks that raised (after their own retries gave up, or without retries), by task.",
    ["task"],
)
TASK_RETRIES = Counter(
    "crosssell_task_retries",
    "Celery tasks scheduled again after an error they retry on, by task.",
    ["task"],
)
TASK_DURATION = Histogram(
    "crosssell_task_duration_seconds",
    "Wall time of Celery tasks, by task (failed ones included).",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
)


class _Suppressed(Protocol):
    @property
    def reason(self) -> str: ...
    @property
    def shadow(self) -> bool: ...


class _Released(Protocol):
    @property
    def channel(self) -> str: ...


def decision_stored(
    *,
    mode: str,
    outcome: str,
    released: Iterable[_Released],
    suppressed: Iterable[_Suppressed],
) -> None:
    """Count one stored decision: its outcome, each offer it released, and each candidate
    it withheld (a shadow campaign's would-be suppressions are not the bank's)."""
    DECISIONS.labels(mode=mode, outcome=outcome).inc()
    for channel, count in Tally(offer.channel for offer in released).items():
        OFFERS_RELEASED.labels(channel=channel).inc(count)
    reasons = Tally(item.reason for item in suppressed if not item.shadow)
    for reason, count in reasons.items():
        SUPPRESSIONS.labels(reason=reason).inc(count)


def snapshot_rebuilt() -> None:
    SNAPSHOT_REBUILDS.inc()


def timed_decision(mode: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorates a decision service: the wall time of each decision it returns goes to
    ``DECISION_LATENCY`` under ``mode`` (a refused request is no decision, and its quick
    answer would flatter the histogram)."""
    histogram = DECISION_LATENCY.labels(mode=mode)

    def decorate(service: Callable[P, R]) -> Callable[P, R]:
        @wraps(service)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            result = service(*args, **kwargs)
            histogram.observe(time.perf_counter() - started)
            return result

        return timed

    return decorate
