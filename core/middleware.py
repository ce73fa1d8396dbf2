import io
import logging
import uuid
from typing import Any
from urllib.parse import unquote_to_bytes

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import JsonResponse
from django_htmx.middleware import HtmxMiddleware
from simple_history.middleware import HistoryRequestMiddleware

from core.api.exceptions import DATABASE_UNAVAILABLE, database_unavailable, json_error
from core.request_context import clean_request_id, set_request_id

logger = logging.getLogger("crosssell.api")
_READ_CHUNK_BYTES = 64 * 1024


class RequestIdMiddleware:
    """Tags each request with an id that services copy into the audit rows they write,
    that every log line written meanwhile carries (``core.logs``), and that the Celery
    tasks it publishes carry on (``crosssell.observability.task_signals``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = clean_request_id(request.headers.get("X-Request-Id", ""))
        request_id = request_id or uuid.uuid4().hex
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            token.var.reset(token)
        response["X-Request-Id"] = request_id
        return response


def _is_utf8(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _wsgi_bytes(meta, key: str) -> bytes:
    value = meta.get(key, "")
    try:
        return value.encode("iso-8859-1")  # WSGI's str for the bytes the server got
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace")


class ApiBodyLimitMiddleware:
    """The API's door: what it refuses before any view runs, and its last line.

    Under ``/api/``:

    - a URL path or query whose bytes are not UTF-8 (e.g. ``%ED%A0%BD``, an unpaired
      surrogate, or ``%FF``) is 400 ``malformed_request`` — Django would otherwise pass
      the path on with those bytes re-percent-encoded (``external_id`` "%ED%A0%BD") and
      the query with U+FFFD in their place. Django hands the path over decoded, so an id
      spelled with a literal ``%ED%A0%BD`` (sent as ``%25ED%25A0%25BD``) is refused too;
    - a body over the contract's 1 MiB is 413 before anything reads it;
    - a body sent without ``Content-Length`` (``Transfer-Encoding: chunked``) is read
      here, up to the limit, when the WSGI server de-chunks it and says so
      (``wsgi.input_terminated``, as gunicorn does), and is handed on with its length;
      elsewhere (Django's development server) it cannot be read and is refused with 411
      ``length_required``. Either way it is never taken for an empty body.

    An exception nothing handled is logged and answered in the one error shape: 503
    ``service_unavailable`` with ``Retry-After`` when the database is not answering,
    else 500 ``internal_error`` instead of Django's HTML page. No input should ever get
    to a 500 — each one found is a bug to fix at its cause.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _refusal(self, request) -> JsonResponse | None:
        # Django has decoded the path already, writing each byte that is not UTF-8 back
        # as its %XX escape: those are found by decoding the escapes once more.
        if not _is_utf8(request.path_info.encode("utf-8")):
            return json_error(400, "malformed_request", "The URL path is not valid UTF-8.")
        if not _is_utf8(_wsgi_bytes(request.META, "QUERY_STRING")):
            return json_error(400, "malformed_request", "The URL query is not valid UTF-8.")
        declared = request.META.get("CONTENT_LENGTH") or ""
        if not declared and request.META.get("HTTP_TRANSFER_ENCODING"):
            return self._read_unframed_body(request)
        try:
            length = int(declared or 0)
        except ValueError:
            length = -1
        if length < 0:
            return json_error(400, "malformed_request", "Content-Length is not a number of bytes.")
        if length > settings.API_MAX_BODY_BYTES:
            return _too_large()
        return None

    def _read_unframed_body(self, request) -> JsonResponse | None:
        """Reads a body that came without a length (chunked), so that what follows sees
        an ordinary request with ``Content-Length``; or the answer refusing it."""
        if not request.META.get("wsgi.input_terminated"):
            return json_error(
                411,
                "length_required",
                "This server cannot read a body sent without Content-Length "
                "(Transfer-Encoding: chunked); send its Content-Length.",
            )
        limit = settings.API_MAX_BODY_BYTES
        stream = request.META["wsgi.input"]
        chunks: list[bytes] = []
        size = 0
        try:
            while size <= limit:
                chunk = stream.read(min(_READ_CHUNK_BYTES, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except Exception:  # the client went away (OSError) or framed its chunks wrongly
            # (gunicorn's ParseException subclasses): either way the client's bytes
            logger.info("unreadable chunked body on %s %s", request.method, request.path)
            return json_error(400, "malformed_request", "The request body could not be read.")
        if size > limit:
            return _too_large()
        body = b"".join(chunks)
        request.META["CONTENT_LENGTH"] = str(len(body))
        # Django made its stream from the length it saw (none): give it the body read.
        request._stream = io.BytesIO(body)
        return None

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        if isinstance(exception, DATABASE_UNAVAILABLE):
            body, headers = database_unavailable(
                exception, where=f"{request.method} {request.path}"
            )
            return JsonResponse(body, status=503, headers=headers)
        logger.exception(
            "unhandled API error on %s %s (request %s)",
            request.method,
            request.path,
            getattr(request, "request_id", ""),
        )
        return json_error(500, "internal_error", "The server failed to handle this request.")


def _too_large() -> JsonResponse:
    return json_error(413, "payload_too_large", "The request body is larger than 1 MiB.")


# --- the lean API path ---------------------------------------------------------------------

# The channel contract: authenticated by API key (core.api.auth), answered in JSON. It
# reads no session, no signed-in user, no flash message, no htmx header and writes no
# model history, so the middleware for those steps aside for it. /api/docs/ and
# /api/schema/ are pages for people and keep the whole stack.
LEAN_API_PREFIX = "/api/v1/"
# What the API's JSON answers carry instead of the console's policy, built once: nothing
# may load from them and no page may frame them.
LEAN_API_CSP = "default-src 'none'; frame-ancestors 'none'"


def is_lean_api_request(request) -> bool:
    return request.path_info.startswith(LEAN_API_PREFIX)


class ConsoleOnly:
    """Mixed in before a middleware class: it does nothing on the lean API path.

    The classes below stay subclasses of the ones they wrap, so Django's checks (the
    admin's for sessions, auth and messages) still find them in ``MIDDLEWARE``; none of
    them has a ``process_view``, ``process_exception`` or ``process_template_response``
    hook, which the handler would call outside ``__call__``.
    """

    get_response: Any

    def __call__(self, request):
        if is_lean_api_request(request):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class ConsoleSessionMiddleware(ConsoleOnly, SessionMiddleware):
    pass


class ConsoleAuthenticationMiddleware(ConsoleOnly, AuthenticationMiddleware):
    pass


class ConsoleMessageMiddleware(ConsoleOnly, MessageMiddleware):
    pass


class ConsoleHtmxMiddleware(ConsoleOnly, HtmxMiddleware):
    pass


class ConsoleCSPMiddleware(ConsoleOnly, CSPMiddleware):
    """The console's policy, built per response (nonces, per-view overrides); the API's
    JSON gets the fixed ``LEAN_API_CSP`` instead."""

    def __call__(self, request):
        if not is_lean_api_request(request):
            return super().__call__(request)
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", LEAN_API_CSP)
        return response


class ConsoleHistoryRequestMiddleware:
    """simple_history's (a function middleware, so wrapped rather than subclassed): hands
    the request to model history so console edits record who made them."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.with_history = HistoryRequestMiddleware(get_response)

    def __call__(self, request):
        if is_lean_api_request(request):
            return self.get_response(request)
        return self.with_history(request)
