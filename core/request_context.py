"""The current request id, readable by services without passing the request around.

Set by ``core.middleware.RequestIdMiddleware`` for a request and, in a Celery worker, by
``crosssell.observability.task_signals`` for a task a request published.
"""

import re
from contextvars import ContextVar, Token

_request_id: ContextVar[str] = ContextVar("crosssell_request_id", default="")
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9._:-]")


def set_request_id(value: str) -> Token[str]:
    return _request_id.set(value)


def current_request_id() -> str:
    return _request_id.get()


def clean_request_id(value: str) -> str:
    """An id from outside (a caller's header, a task message) kept only as far as it is a
    plain token of at most 64 characters: it lands in the ledger and in every log line.
    Empty when nothing is left."""
    return _NOT_TOKEN.sub("", value)[:64]
