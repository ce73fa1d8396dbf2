"""The roof's own endpoints: health, whoami, schema, docs and routing errors."""

from __future__ import annotations

from pathlib import Path

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.static import serve
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from core.api.exceptions import error_body
from core.api.permissions import ALL_ROLES
from core.api.schema import READ, errors
from core.api.views import ApiView
from core.channels import INBOUND
from core.choices import Role
from crosssell.api.health import HEARTBEAT_STALE_AFTER_SECONDS, WORKER_STATES, health_status


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    database = serializers.ChoiceField(choices=["ok", "down"])
    broker = serializers.ChoiceField(choices=["ok", "eager", "down"])
    version = serializers.CharField()
    workers = serializers.ChoiceField(
        choices=list(WORKER_STATES),
        help_text="By the newest worker heartbeat: `ok`, `stale` (older than "
        f"{HEARTBEAT_STALE_AFTER_SECONDS} s), `none` (no worker ever reported), `eager` "
        "(tasks run in-process), `unknown` (the database cannot say).",
    )
    worker_heartbeat_age_seconds = serializers.FloatField(
        allow_null=True, help_text="Age of the newest worker heartbeat; null without one."
    )
    sealer_lag_seconds = serializers.FloatField(
        allow_null=True,
        help_text="Age of the oldest audit record no seal covers yet (0 when all are "
        "sealed); null when the database cannot say.",
    )


class HealthView(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        operation_id="health",
        summary="Health of the service (no key needed)",
        description=(
            "Each dependency by name. `broker` is `eager` when no Celery broker is "
            "configured (tasks run in-process), else the result of a Redis ping (cached "
            "for a second). `workers` is judged by the newest worker heartbeat, "
            "`sealer_lag_seconds` is the age of the oldest unsealed audit record. "
            "`status` is `degraded` when the broker is down, the workers are not `ok` "
            "(or `eager`), or the sealer lags past the ledger's stale threshold; the answer "
            "is still 200, since the API itself can serve. Only when the database does not "
            "answer does the same document come with status 503, so load balancers take "
            "the instance out."
        ),
        auth=[],
        responses={200: HealthSerializer, 503: HealthSerializer},
        tags=["health"],
    )
    def get(self, request):
        body, database_up = health_status()
        return Response(body, status=200 if database_up else 503)


class WhoAmIView(ApiView):
    allowed_roles = ALL_ROLES

    @extend_schema(
        operation_id="whoami",
        summary="The API client this key belongs to",
        description="Any role. One indexed lookup (the key); useful to check a key and "
        "as the benchmark's trivial endpoint.",
        responses={
            200: inline_serializer(
                "WhoAmI",
                {
                    "name": serializers.CharField(),
                    "role": serializers.ChoiceField(choices=Role.choices),
                    "channels": serializers.ListField(child=serializers.CharField()),
                },
            ),
            **errors(*READ),
        },
        tags=["health"],
    )
    def get(self, request):
        client = self.client
        return Response({"name": client.name, "role": client.role, "channels": client.channels})


API_DESCRIPTION = """
The channel REST contract (API.md): signals in, next best offers out, outbound messages
leased and acknowledged, customer responses recorded. JSON in and out; times are ISO 8601
with an offset.

**Errors** always have one shape:
`{"error": {"code": "...", "message": "...", "fields": {"field": ["..."]}}}` — 400 malformed
or invalid, 401 no/bad key, 403 not allowed, 404 unknown resource, 405 wrong method,
409 conflict (idempotency key reused with a different body), 413 body over 1 MiB,
411 a body without a length the server cannot read, 422 valid JSON that cannot be acted
on, 429 throttled (with `Retry-After`), 503 the database is not answering (with
`Retry-After`).

**Roles** (`Authorization: Token <key>`):

| endpoint | roles |
|---|---|
| GET health | none (no key) |
| GET whoami, GET offers | any role |
| PUT customer, POST identities | channel, marketer, admin |
| GET customer | channel, marketer, compliance, admin (analysts see no PII) |
| PUT consent | channel, compliance, admin — a channel client records revokes for any channel (an opt-out is honoured wherever the customer says it) but grants only for channels it may act for |
| DELETE customer | compliance, admin |
| POST events | channel, admin |
| POST decisions, lease, ack, responses, overrides | channel |
| GET decision | channel (decisions on its channels), compliance, admin |
| GET campaigns | marketer, compliance, admin |
| GET audit, audit/verify | compliance, admin |

A channel client acting for a channel it is not allowed gets 403: the channel in the body,
in the path (lease), or of the object acted on (a message's channel for ack, a decision's
channel for overrides and decision reads).

**Idempotency**: events carry `event_id`, responses `response_id`; the same id with the
same body returns the original result with `"duplicate": true` and changes nothing; with a
different body it is 409.
""".strip()


SCHEMA_SETTINGS = {
    "DESCRIPTION": API_DESCRIPTION,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SCHEMA_PATH_PREFIX_TRIM": False,
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "core.choices.Channel",
        "InboundChannelEnum": sorted(INBOUND),
        "ConsentChannelEnum": "compliance.choices.ConsentChannel",
        "ConsentStatusEnum": "compliance.choices.ConsentStatus",
        "CampaignStatusEnum": "campaigns.choices.CampaignStatus",
        "HealthStatusEnum": ["ok", "degraded"],
        "EventStatusEnum": ["accepted", "unresolved"],
        "AckStatusEnum": ["delivered", "failed"],
    },
}


class ApiSchemaView(SpectacularAPIView):
    custom_settings = SCHEMA_SETTINGS


def _sidecar_dir() -> Path:
    import drf_spectacular_sidecar

    return Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar"


DOCS_ASSETS = {
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "oauth2-redirect.html",
}


@method_decorator(csp_update({"style-src": [UNSAFE_INLINE]}), name="dispatch")
class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from the sidecar package, served by us: no CDN on a bank's intranet.

    The split view loads its start-up script from this same URL (``?script``) instead of
    inlining it, so the console's ``script-src 'self'`` holds here too; only the page's
    own ``<style>`` block needs inline styles, allowed on this view alone.
    """

    @staticmethod
    def _swagger_ui_resource(filename):
        return reverse("api:docs-asset", args=[filename])

    @staticmethod
    def _swagger_ui_favicon():
        return reverse("api:docs-asset", args=["favicon-32x32.png"])


@csrf_exempt
def docs_asset(request, filename: str):
    if filename not in DOCS_ASSETS:
        raise Http404(filename)
    response = serve(request, filename, document_root=str(_sidecar_dir() / "swagger-ui-dist"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


@csrf_exempt
def api_not_found(request, path: str = ""):
    """Routing 404 for anything under /api/ no endpoint matched, in the error shape."""
    message = f"No API endpoint at {request.path}."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            message += f" Did you mean {request.path}/ (with the trailing slash)?"
    return JsonResponse(error_body("not_found", message), status=404)
