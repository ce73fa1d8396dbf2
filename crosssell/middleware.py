import uuid

from django.conf import settings

from crosssell.api.exceptions import json_error
from crosssell.request_context import set_request_id


class RequestIdMiddleware:
    """Tags each request with an id that services copy into the audit rows they write."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            token.var.reset(token)
        response["X-Request-Id"] = request_id
        return response


class ApiBodyLimitMiddleware:
    """Refuses API bodies over the contract's 1 MiB with 413 before anything reads them."""

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
