"""Celery hooks: the request id travels with the tasks a request publishes, and tasks are
counted and timed.

- ``before_task_publish`` (the publishing process: gunicorn, or a worker publishing
  follow-up work) copies the current request id into the message's headers as
  ``crosssell_request_id``; a header the caller set itself is kept.
- ``task_prerun`` (the process running the task) puts that header's id into
  ``core.request_context`` — the contextvar ``ledger.services`` stamps on every audit row
  and ``core.logs`` on every log line — and binds ``task`` / ``task_id`` for the logs.
  A task run eagerly (``CELERY_TASK_ALWAYS_EAGER``, the embedded default) publishes no
  message, so ``before_task_publish`` never fires: it runs inside the request and keeps
  the request's id, unless headers passed to ``apply``/``apply_async`` name another. A
  task no request led to (beat's schedule) runs under ``task:<its task id>``, which the
  tasks it publishes inherit.
- ``task_postrun`` restores what was there before (nothing, in a worker), so an id never
  leaks into the next task the process runs, and observes the task's wall time.
- ``task_failure`` / ``task_retry`` count failures and retries by task name.
- ``setup_logging``: while a receiver is connected Celery leaves logging alone, so the
  worker and beat write in the project's format (``LOGGING``, ``core.logs``) instead of
  Celery's own; the ``--loglevel`` they were started with sets the root level.
- ``worker_ready``: with ``CROSSSELL_WORKER_METRICS_PORT`` set, the worker serves its own
  counters (tasks, and the decisions it stores) on that port.

``crosssell/celery.py`` connects them (``connect``).
"""

from __future__ import annotations

import logging
import logging.config
import os
import time
from contextvars import Token
from dataclasses import dataclass
from typing import Any

import structlog
from celery import signals
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

from core.metrics import TASK_DURATION, TASK_FAILURES, TASK_RETRIES
from core.request_context import clean_request_id, current_request_id, set_request_id

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "crosssell_request_id"
_OBSERVED = "_crosssell_observed"


@dataclass(frozen=True, slots=True)
class _Observed:
    request_id: Token[str]
    log_context: dict[str, Any]
    started: float


def request_id_into_headers(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """``before_task_publish``: the publishing request's id goes along with the message."""
    request_id = current_request_id()
    if request_id and headers is not None and not headers.get(REQUEST_ID_HEADER):
        headers[REQUEST_ID_HEADER] = request_id


def _header_request_id(request: Any) -> str:
    # A worker gets the message's headers as attributes of the request; ``apply`` (eager)
    # keeps them in ``request.headers``.
    value = getattr(request, REQUEST_ID_HEADER, None) or (
        getattr(request, "headers", None) or {}
    ).get(REQUEST_ID_HEADER)
    # Anyone who can write to the broker writes headers: keep only a plain token.
    return clean_request_id(value) if isinstance(value, str) else ""


def task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """``task_prerun``: the task runs under the id of the request that published it."""
    if task is None:
        return
    request = task.request
    # Work no request started (beat's schedule, a management command) is named by the
    # task itself, so its rows and lines still join up, and so do the tasks it publishes.
    request_id = _header_request_id(request) or current_request_id() or f"task:{task_id}"
    observed = _Observed(
        request_id=set_request_id(request_id),
        log_context=structlog.contextvars.bind_contextvars(task=task.name, task_id=task_id),
        started=time.perf_counter(),
    )
    setattr(request, _OBSERVED, observed)


def task_finished(task: Any = None, **_: Any) -> None:
    """``task_postrun``: its wall time, and the context as it was before it ran."""
    if task is None:
        return
    observed = getattr(task.request, _OBSERVED, None)
    if not isinstance(observed, _Observed):
        return
    setattr(task.request, _OBSERVED, None)
    TASK_DURATION.labels(task=task.name).observe(time.perf_counter() - observed.started)
    structlog.contextvars.reset_contextvars(**observed.log_context)
    observed.request_id.var.reset(observed.request_id)


def task_failed(sender: Any = None, **_: Any) -> None:
    """``task_failure``: the task raised and will not be retried."""
    TASK_FAILURES.labels(task=getattr(sender, "name", "unknown")).inc()


def task_retried(sender: Any = None, **_: Any) -> None:
    """``task_retry``: the task raised an error it retries on and was scheduled again."""
    TASK_RETRIES.labels(task=getattr(sender, "name", "unknown")).inc()


def logging_configured(loglevel: int | str | None = None, **_: Any) -> None:
    """``setup_logging``: the project's ``LOGGING`` in the worker and beat too."""
    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


def worker_metrics_served(**_: Any) -> None:
    """``worker_ready``: serve this worker's metrics when a port is configured."""
    port = settings.CROSSSELL_WORKER_METRICS_PORT
    if not port:
        return
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        # Only the main process's own counts: prefork children need the directory.
        registry = REGISTRY
        logger.warning(
            "worker metrics on port %s without PROMETHEUS_MULTIPROC_DIR: a prefork pool's "
            "tasks run in child processes whose counts this port cannot see",
            port,
        )
    start_http_server(port, addr=settings.CROSSSELL_WORKER_METRICS_ADDRESS, registry=registry)
    logger.info("worker metrics served on %s:%s", settings.CROSSSELL_WORKER_METRICS_ADDRESS, port)


def connect() -> None:
    """Connect every hook (idempotent: each has its dispatch uid)."""
    hooks = (
        (signals.before_task_publish, request_id_into_headers),
        (signals.task_prerun, task_started),
        (signals.task_postrun, task_finished),
        (signals.task_failure, task_failed),
        (signals.task_retry, task_retried),
        (signals.setup_logging, logging_configured),
        (signals.worker_ready, worker_metrics_served),
    )
    for signal, receiver in hooks:
        signal.connect(receiver, weak=False, dispatch_uid=f"crosssell.{receiver.__name__}")
