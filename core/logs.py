"""Log lines: every record, the project's and its libraries', rendered by structlog.

Two formats (``CROSSSELL_LOG_FORMAT``):

- ``json``: one JSON object per line (production's default), with ``timestamp`` (ISO 8601,
  UTC), ``level``, ``logger``, ``event`` (the message), ``request_id`` while a request or
  a task it published is being handled, ``task`` and ``task_id`` inside a Celery task,
  ``exception`` (the formatted traceback) when there is one;
- ``console``: the same fields as aligned, readable lines (the default elsewhere).

The project logs through the standard library (``logging.getLogger(__name__)``);
``structlog.get_logger()`` works as well and goes through the same handler. The request
id comes from ``core.request_context`` (set by ``core.middleware.RequestIdMiddleware`` and,
in a worker, by the Celery hooks of ``crosssell.observability.task_signals``); Django's
own ``django.request`` lines, written after the middleware has returned, take it from the
request they carry.
"""

from __future__ import annotations

import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from core.request_context import current_request_id

FORMATS = ("console", "json")


def add_request_id(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """``request_id`` of the request (or of the request that published the task) in hand."""
    request_id = current_request_id()
    if not request_id:
        record = event_dict.get("_record")
        request = getattr(record, "request", None)
        candidate = getattr(request, "request_id", "")
        request_id = candidate if isinstance(candidate, str) else ""
    if request_id:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def shared_processors() -> list[Processor]:
    """What every line gets, whether it was logged through structlog or ``logging``."""
    return [
        structlog.contextvars.merge_contextvars,
        add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _renderers(log_format: str) -> list[Processor]:
    if log_format == "json":
        return [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
    return [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        # Plain tracebacks: a rich one prints each frame's locals, and locals can hold a
        # customer's personal data.
        structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        ),
    ]


def formatter(log_format: str) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of ``log_format`` (``json`` or ``console``), for a handler of its own."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    return structlog.stdlib.ProcessorFormatter(
        processors=_renderers(log_format), foreign_pre_chain=shared_processors()
    )


def logging_config(*, log_format: str, level: int) -> dict[str, Any]:
    """Django's ``LOGGING``: the root logger writes to stderr in ``log_format``."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": _renderers(log_format),
                "foreign_pre_chain": shared_processors(),
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
    }


def configure_structlog() -> None:
    """Route ``structlog.get_logger()`` through the standard library's handlers, so both
    kinds of logger end up in one stream in one format."""
    structlog.configure(
        processors=[
            *shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
