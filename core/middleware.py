import logging
import re
import uuid

from django.conf import settings

from core.api.exceptions import json_error
from core.request_context import set_request_id

logger = logging.getLogger("crosssell.api")
_REQUEST_ID = re.compile(r"[^A-Za-z0-9._:-]")


class RequestIdMiddleware:
    """Tags each request with an id that services copy into the audit rows they write."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A caller's id is kept only as far as it is a plain token (it lands in the ledger).
        request_id = _REQUEST_ID.sub("", request.headers.get("X-Request-Id", ""))[:64]
        request_id = request_id or uuid.uuid4().hex
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            token.var.reset(token)
        response["X-Request-Id"] = request_id
        return response


class ApiBodyLimitMiddleware:
    """Refuses API bodies over the contract's 1 MiB with 413 before anything reads them.

    It is also the API's last line: an exception nothing handled under ``/api/`` is
    logged and answered in the one error shape (500 ``internal_error``) instead of
    Django's HTML page. No input should ever get there — each one found is a bug to fix
    at its cause.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return json_error(400, "malformed_request", "Content-Length is not a number.")
            if length > settings.API_MAX_BODY_BYTES:
                return json_error(
                    413, "payload_too_large", "The request body is larger than 1 MiB."
                )
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        logger.exception(
            "unhandled API error on %s %s (request %s)",
            request.method,
            request.path,
            getattr(request, "request_id", ""),
        )
        return json_error(500, "internal_error", "The server failed to handle this request.")
