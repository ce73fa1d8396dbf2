"""Every API error in the contract's one shape:
``{"error": {"code": ..., "message": ..., "fields": {...}}}``.

Text that UTF-8 cannot carry (an unpaired surrogate a message or field name echoes from
the input) is written as its escape, so an error about bad input never fails to render.
A database that does not answer (``OperationalError``/``InterfaceError``, Django's or
psycopg's) is 503 ``service_unavailable`` with ``Retry-After``: the client retries
after the delay (events and responses carry idempotency keys, so a retry is safe), and
monitoring sees an outage, not a bug.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.api.parsers import printable
from core.api.ratelog import RateLimitedLog
from core.exceptions import ApplicationError

logger = logging.getLogger(__name__)

# What a database that is down, restarting or unreachable raises. Django wraps the
# driver's errors in its own; psycopg's are listed for the ones raised outside Django's
# wrapper (a connection pool, a driver call made directly).
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)
try:
    import psycopg
except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite needs none
    pass
else:
    DATABASE_UNAVAILABLE += (psycopg.OperationalError, psycopg.InterfaceError)

RETRY_AFTER_SECONDS = 5
UNAVAILABLE_CODE = "service_unavailable"
UNAVAILABLE_MESSAGE = "The service cannot reach its database just now; retry shortly."
# Every request fails the same way during an outage: one log line per 10 s is enough.
_unavailable_log = RateLimitedLog(logger, 10.0)

_DRF_CODES = {
    drf.ParseError: "malformed_request",
    drf.AuthenticationFailed: "not_authenticated",
    drf.NotAuthenticated: "not_authenticated",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "throttled",
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict:
    """The one error shape, with any text UTF-8 cannot carry escaped."""
    safe_fields = {
        printable(str(name)): [
            printable(str(m)) for m in ([messages] if isinstance(messages, str) else messages)
        ]
        for name, messages in (fields or {}).items()
    }
    return {"error": {"code": code, "message": printable(str(message)), "fields": safe_fields}}


def database_unavailable(exc: BaseException, *, where: str) -> tuple[dict, dict[str, str]]:
    """Logs a database outage (rate-limited); the 503's body and headers."""
    _unavailable_log.log(
        logging.ERROR,
        "database unavailable while handling %s: %s",
        where,
        type(exc).__name__,
        exc_info=exc,
    )
    body = error_body(UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE)
    return body, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors for nested serializers; the contract wants field -> messages."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and not prefix:
                name = "non_field_errors"
            out.update(_flatten(value, name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def _unavailable(exc: Exception, context: dict) -> Response:
    set_rollback()
    request = context.get("request")
    where = f"{request.method} {request.path}" if request is not None else "a request"
    body, headers = database_unavailable(exc, where=where)
    return Response(body, status=503, headers=headers)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return _unavailable(exc, context)
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, drf.ValidationError):
        set_rollback()
        fields = _flatten(exc.detail)
        return Response(
            error_body("validation_error", "The request is not valid.", fields), status=400
        )
    if isinstance(exc, drf.APIException):
        set_rollback()
        code = _DRF_CODES.get(type(exc), exc.default_code)
        headers: dict[str, str] = {}
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        if isinstance(exc, drf.Throttled):
            # Throttled.__init__ sets .wait; drf-stubs do not declare it
            wait: float | None = exc.wait  # type: ignore[attr-defined]
            if wait is not None:
                headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return Response(error_body(code, message), status=exc.status_code, headers=headers)
    return None


def json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)
