"""OpenAPI building blocks: the one error shape, its status codes, the key scheme.

Every endpoint documents the errors it can answer with, so the schema is truthful
(channel integrators and the schemathesis run in CI both rely on it).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case error code.")
    message = serializers.CharField(help_text="What went wrong, for a person to read.")


# ``fields`` is the contract's name, and also a Serializer attribute; declare it by hand.
ErrorDetailSerializer._declared_fields["fields"] = serializers.DictField(
    child=serializers.ListField(child=serializers.CharField()),
    help_text="Field name (dotted for nested fields) -> messages; empty when not about fields.",
)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()

    class Meta:
        ref_name = "Error"


DESCRIPTIONS = {
    400: "Malformed JSON or invalid fields (`validation_error`), or a request that is not "
    "well formed, e.g. a URL or string that is not valid UTF-8 (`malformed_request`).",
    401: "No API key, or a key that is not valid (`not_authenticated`).",
    403: "The client's role, or the channels it may act for, do not allow this "
    "(`permission_denied`).",
    404: "Unknown resource (`not_found`).",
    405: "Method not allowed on this path (`method_not_allowed`).",
    409: "Conflict, e.g. an idempotency key reused with a different body (`conflict`).",
    411: "A body sent without `Content-Length` (chunked) that this server cannot read "
    "(`length_required`).",
    413: "Body larger than 1 MiB (`payload_too_large`).",
    415: "Body is not `application/json` (`unsupported_media_type`).",
    422: "Valid JSON that cannot be acted on, e.g. an unknown offer code (`unprocessable`).",
    429: "Throttled; retry after the `Retry-After` seconds (`throttled`).",
    503: "The database is not answering; retry after the `Retry-After` seconds "
    "(`service_unavailable`).",
}

# Any URL can be malformed (400); every endpoint can find the database down (503).
READ = (400, 401, 403, 429, 503)
WRITE = (400, 401, 403, 411, 413, 415, 429, 503)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses of an operation, each in the one error shape."""
    return {
        code: OpenApiResponse(response=ErrorSerializer, description=DESCRIPTIONS[code])
        for code in sorted(set(codes))
    }


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Authorization: Token <key>`. Keys belong to an API client with a role "
                "(channel, marketer, compliance, analyst, admin); channel clients also have "
                "the list of channels they may act for. Create one with "
                "`manage.py create_api_client`."
            ),
        }
