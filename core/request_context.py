"""The current request id, readable by services without passing the request around."""

from contextvars import ContextVar, Token

_request_id: ContextVar[str] = ContextVar("crosssell_request_id", default="")


def set_request_id(value: str) -> Token:
    return _request_id.set(value)


def current_request_id() -> str:
    return _request_id.get()
