"""Every API error in the contract's one shape:
``{"error": {"code": ..., "message": ..., "fields": {...}}}``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.exceptions import ApplicationError

logger = logging.getLogger(__name__)

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
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


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


def exception_handler(exc: Exception, context: dict) -> Response | None:
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
