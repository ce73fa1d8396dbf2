"""Who may reach what: one row per route of the project, written from DESIGN.md and
API.md — never derived from the views' own declarations, or the matrix would only
repeat them.

A row names a route (its namespaced URL name, or its route string when it has none),
the surface that guards it and, per method it serves, the roles let in:

- ``CONSOLE``: people signed in (``core.permissions``). Anonymous visitors are sent to
  the login page; a signed-in user without one of the roles gets 403.
- ``API``: API clients by key (``core.api.permissions``). No key is 401; a role not
  listed is 403; a channel client acting for a channel outside its list is 403 where
  the call is ``channel_scoped``.
- ``ADMIN``: the Django admin, for staff (``is_staff``) only — no console role opens it,
  and staff without a console role open no console screen. Only the site's gate is
  this matrix's: inside, each ``ModelAdmin`` may still refuse a change (the ledger's
  and the customers' admins are read-only), which their own tests cover.
- ``PUBLIC``: everyone (sign-in, API health, schema and docs, routing 404s).

The whole Django admin is one group row (``ADMIN_GROUP``): every admin view goes through
``AdminSite.admin_view``, so a new model registered there is covered by the same rule.
Every other route needs its own row: ``test_permission_matrix`` fails on a route
without one, and on a row whose route is gone.

Path parameters and bodies are filled from the ``Dataset`` the test builds once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Surface(Enum):
    CONSOLE = "console"
    API = "api"
    ADMIN = "admin"
    PUBLIC = "public"


# Console roles (people) and API roles (clients), as DESIGN.md and API.md name them.
MARKETER, COMPLIANCE, ANALYST, ADMIN, CHANNEL = (
    "marketer",
    "compliance",
    "analyst",
    "admin",
    "channel",
)
EVERY_PERSON = frozenset({MARKETER, COMPLIANCE, ANALYST, ADMIN})
PEOPLE_DATA = frozenset({MARKETER, COMPLIANCE, ANALYST})  # customer screens: no admin
ONLY_MARKETER = frozenset({MARKETER})
ONLY_COMPLIANCE = frozenset({COMPLIANCE})
LEDGER_READERS = frozenset({COMPLIANCE, ADMIN})
EVERY_CLIENT = frozenset({CHANNEL, MARKETER, COMPLIANCE, ANALYST, ADMIN})
ONLY_CHANNEL = frozenset({CHANNEL})
NOBODY: frozenset[str] = frozenset()

# The channel a channel client "elsewhere" may act for: none of the dataset's.
ELSEWHERE_CHANNEL = "atm"


@dataclass(frozen=True)
class Call:
    """One request a route answers: its method, who is let in, what it sends."""

    method: str
    roles: frozenset[str] = NOBODY
    body: Callable[[Any], Mapping[str, Any]] | None = None
    query: str = ""
    # API only: a channel client whose channels exclude the one acted for gets 403.
    channel_scoped: bool = False
    # The status everyone let in gets, when the call pins one (console pages: 200).
    status: int | None = None
    label: str = ""

    @property
    def name(self) -> str:
        return f"{self.method}{'-' + self.label if self.label else ''}"


@dataclass(frozen=True)
class Route:
    key: str
    surface: Surface
    calls: tuple[Call, ...]
    path: Callable[[Any], Mapping[str, Any]] = field(default=lambda d: {})
    # Where a refusal redirects, for the surfaces that redirect (console, admin); the
    # surface's sign-in page unless named.
    refused_to: str = ""


def page(roles: frozenset[str], **extra: Any) -> Call:
    """A console screen read with GET: those let in see it (200)."""
    return Call("GET", roles, status=extra.pop("status", 200), **extra)


def post(roles: frozenset[str], body: Callable[[Any], Mapping[str, Any]] | None = None) -> Call:
    """A console form or action (POST)."""
    return Call("POST", roles, body=body)


def console(key: str, *calls: Call, path: Callable[[Any], Mapping[str, Any]] | None = None):
    return Route(key, Surface.CONSOLE, calls, path or (lambda d: {}))


def api(key: str, *calls: Call, path: Callable[[Any], Mapping[str, Any]] | None = None):
    return Route(key, Surface.API, calls, path or (lambda d: {}))


def public(key: str, *calls: Call, path: Callable[[Any], Mapping[str, Any]] | None = None):
    return Route(key, Surface.PUBLIC, calls, path or (lambda d: {}))


def _consent(status: str) -> Callable[[Any], Mapping[str, Any]]:
    return lambda d: {"status": status, "source": "test", "captured_at": d.now.isoformat()}


CONSOLE_ROUTES = (
    console("home", page(EVERY_PERSON)),
    console("health", page(frozenset({ADMIN}))),
    # catalog: everyone reads, marketers write
    console("offers:offer_list", page(EVERY_PERSON)),
    console("offers:offer_create", page(ONLY_MARKETER), post(ONLY_MARKETER)),
    console("offers:offer_detail", page(EVERY_PERSON), path=lambda d: {"pk": d.offer.pk}),
    console(
        "offers:offer_edit",
        page(ONLY_MARKETER),
        post(ONLY_MARKETER),
        path=lambda d: {"pk": d.offer.pk},
    ),
    console(
        "offers:offer_transition",
        post(ONLY_MARKETER),
        path=lambda d: {"pk": d.offer.pk, "verb": "pause"},
    ),
    console(
        "offers:offer_targeting_submit", post(ONLY_MARKETER), path=lambda d: {"pk": d.offer.pk}
    ),
    console(
        "offers:content_edit",
        page(EVERY_PERSON),
        post(ONLY_MARKETER, lambda d: {"headline": "New", "body": "New body."}),
        path=lambda d: {"pk": d.offer.pk, "channel": "sms"},
    ),
    console(
        "offers:content_precheck",
        page(EVERY_PERSON, query="body=Save+now"),
        post(EVERY_PERSON, lambda d: {"body": "Save now"}),
        path=lambda d: {"pk": d.offer.pk, "channel": "sms"},
    ),
    console(
        "offers:content_redirect",
        page(EVERY_PERSON, status=302),
        path=lambda d: {"pk": d.content.pk},
    ),
    console("offers:content_submit", post(ONLY_MARKETER), path=lambda d: {"pk": d.content.pk}),
    console("offers:content_rollback", post(ONLY_MARKETER), path=lambda d: {"pk": d.content.pk}),
    console("offers:offer_content_submit", post(ONLY_MARKETER), path=lambda d: {"pk": d.offer.pk}),
    console(
        "offers:offer_targeting_rollback",
        post(ONLY_MARKETER),
        path=lambda d: {"pk": d.offer.pk, "version": 1},
    ),
    console("offers:product_list", page(EVERY_PERSON)),
    console("offers:product_create", page(ONLY_MARKETER), post(ONLY_MARKETER)),
    console("offers:product_detail", page(EVERY_PERSON), path=lambda d: {"pk": d.product.pk}),
    console(
        "offers:product_edit",
        page(ONLY_MARKETER),
        post(ONLY_MARKETER),
        path=lambda d: {"pk": d.product.pk},
    ),
    # campaigns: everyone reads, marketers build, launch, pause, simulate and run
    console("campaigns:campaign_list", page(EVERY_PERSON)),
    console("campaigns:campaign_create", page(ONLY_MARKETER), post(ONLY_MARKETER)),
    console("campaigns:campaign_detail", page(EVERY_PERSON), path=lambda d: {"pk": d.campaign.pk}),
    console(
        "campaigns:campaign_edit",
        page(ONLY_MARKETER),
        post(ONLY_MARKETER),
        path=lambda d: {"pk": d.campaign.pk},
    ),
    console(
        "campaigns:campaign_action",
        post(ONLY_MARKETER),
        path=lambda d: {"pk": d.campaign.pk, "action": "pause"},
    ),
    console("campaigns:run_detail", page(EVERY_PERSON), path=lambda d: {"pk": d.run.pk}),
    console("campaigns:policy", page(EVERY_PERSON)),
    console("campaigns:policy_edit", page(ONLY_MARKETER), post(ONLY_MARKETER)),
    console("decisioning:run_start", post(ONLY_MARKETER), path=lambda d: {"pk": d.campaign.pk}),
    console("decisioning:run_resume", post(ONLY_MARKETER), path=lambda d: {"pk": d.run.pk}),
    console(
        "decisioning:campaign_simulate", post(ONLY_MARKETER), path=lambda d: {"pk": d.campaign.pk}
    ),
    console("decisioning:rule_check", page(EVERY_PERSON, query="rule=age+%3E%3D+18")),
    console("decisioning:audience_count", page(EVERY_PERSON, query="audience_rule=age+%3E%3D+18")),
    console("campaigns:schedule_check", page(EVERY_PERSON, query="schedule=0+6+*+*+mon")),
    # decisions: everyone reads the ledger of decisions (customer names by role)
    console("decisioning:decision_list", page(EVERY_PERSON)),
    console(
        "decisioning:decision_detail", page(EVERY_PERSON), path=lambda d: {"pk": d.decision.pk}
    ),
    console(
        "decisioning:decision_explain", page(EVERY_PERSON), path=lambda d: {"pk": d.decision.pk}
    ),
    # models: everyone reads the registry; analysts and marketers ask for a training
    console("decisioning:model_list", page(EVERY_PERSON)),
    console(
        "decisioning:model_detail",
        page(EVERY_PERSON, status=404),  # the data set's product has no model yet
        path=lambda d: {"code": d.product.code},
    ),
    console(
        "decisioning:model_train",
        post(frozenset({ANALYST, MARKETER})),
        path=lambda d: {"code": d.product.code},
    ),
    # customers: people who work with customers; rights (consent, do-not-contact,
    # suppressions, erasure) are compliance's
    console("customers:search", page(PEOPLE_DATA)),
    console(
        "decisioning:customer_360",
        page(PEOPLE_DATA),
        path=lambda d: {"external_id": d.customer.external_id},
    ),
    console(
        "decisioning:customer_offer_now",
        page(PEOPLE_DATA, query="channel=web"),
        path=lambda d: {"external_id": d.customer.external_id},
    ),
    console(
        "decisioning:customer_replay",
        page(PEOPLE_DATA),
        path=lambda d: {"external_id": d.customer.external_id, "pk": d.decision.pk},
    ),
    console(
        "decisioning:consent_change",
        post(
            ONLY_COMPLIANCE,
            lambda d: {"channel": "sms", "status": "revoked", "source": "phone"},
        ),
        path=lambda d: {"external_id": d.customer.external_id},
    ),
    console(
        "decisioning:do_not_contact",
        post(ONLY_COMPLIANCE),
        path=lambda d: {"external_id": d.customer.external_id},
    ),
    console(
        "compliance:suppression_add",
        post(ONLY_COMPLIANCE, lambda d: {"scope": "all", "reason": "complaint"}),
        path=lambda d: {"external_id": d.customer.external_id},
    ),
    console(
        "compliance:suppression_lift",
        post(ONLY_COMPLIANCE, lambda d: {"reason": "resolved"}),
        path=lambda d: {"external_id": d.customer.external_id, "pk": d.suppression.pk},
    ),
    console(
        "decisioning:erasure_list",
        page(ONLY_COMPLIANCE),
        post(ONLY_COMPLIANCE, lambda d: {"external_id": "nobody", "confirm": "nobody"}),
    ),
    # approvals (the checker's queue) and the audit ledger
    console("compliance:approval_list", page(ONLY_COMPLIANCE)),
    console(
        "compliance:approval_detail",
        page(ONLY_COMPLIANCE),
        post(ONLY_COMPLIANCE, lambda d: {"action": "approve"}),
        path=lambda d: {"pk": d.approval.pk},
    ),
    console("compliance:audit_list", page(LEDGER_READERS)),
    console("compliance:audit_export", page(ONLY_COMPLIANCE), path=lambda d: {"fmt": "csv"}),
    console("compliance:ledger_verify", post(LEDGER_READERS)),
    # campaign results: everyone who reads campaigns
    console("results:dashboard", page(EVERY_PERSON)),
    console("results:campaign", page(EVERY_PERSON), path=lambda d: {"pk": d.campaign.pk}),
)

API_ROUTES = (
    public("api:health", Call("GET")),
    public("api:schema", Call("GET")),
    public("api:docs", Call("GET")),
    public("api:docs-asset", Call("GET"), path=lambda d: {"filename": "swagger-ui.css"}),
    public(
        "api/^(?P<path>[\\s\\S]*)\\Z", Call("GET", status=404), path=lambda d: {"path": "v1/x/"}
    ),
    api("api:whoami", Call("GET", EVERY_CLIENT)),
    api(
        "api:event-create",
        Call(
            "POST",
            frozenset({CHANNEL, ADMIN}),
            lambda d: {
                "event_id": "E-MATRIX",
                "type": "app_login",
                "occurred_at": d.now.isoformat(),
                "customer": {"external_id": d.customer.external_id},
                "channel": "sms",
            },
            channel_scoped=True,
        ),
    ),
    api(
        "api:decision-create",
        Call(
            "POST",
            ONLY_CHANNEL,
            lambda d: {"customer": {"external_id": d.customer.external_id}, "channel": "branch"},
            channel_scoped=True,
        ),
    ),
    api(
        "api:decision-detail",
        Call("GET", frozenset({CHANNEL, COMPLIANCE, ADMIN}), channel_scoped=True),
        path=lambda d: {"decision_id": d.decision.pk},
    ),
    api(
        "api:messages-lease",
        Call("POST", ONLY_CHANNEL, lambda d: {"max": 1}, channel_scoped=True),
        path=lambda d: {"channel": "sms"},
    ),
    api(
        "api:message-ack",
        Call("POST", ONLY_CHANNEL, lambda d: {"status": "delivered"}, channel_scoped=True),
        path=lambda d: {"message_id": d.message.pk},
    ),
    api(
        "api:response-create",
        Call(
            "POST",
            ONLY_CHANNEL,
            lambda d: {
                "response_id": "R-MATRIX",
                "decision_id": str(d.decision.pk),
                "offer_code": d.offer.code,
                "outcome": "click",
                "occurred_at": d.now.isoformat(),
                "channel": "sms",
            },
            channel_scoped=True,
        ),
    ),
    api(
        "api:override-create",
        Call(
            "POST",
            ONLY_CHANNEL,
            lambda d: {
                "decision_id": str(d.decision.pk),
                "agent_id": "a1",
                "action": "suppress",
                "reason": "customer asked",
            },
            channel_scoped=True,
        ),
    ),
    api(
        "api:customer",
        # any channel client may write a profile: a customer is not a channel's
        Call("PUT", frozenset({CHANNEL, MARKETER, ADMIN}), lambda d: {"region": "Porto"}),
        Call("GET", frozenset({CHANNEL, MARKETER, COMPLIANCE, ADMIN})),
        Call("DELETE", frozenset({COMPLIANCE, ADMIN})),
        path=lambda d: {"external_id": d.customer.external_id},
    ),
    api(
        "api:customer-identities",
        Call(
            "POST",
            frozenset({CHANNEL, MARKETER, ADMIN}),
            lambda d: {"type": "card_token", "value": "tok-matrix"},
        ),
        path=lambda d: {"external_id": d.customer.external_id},
    ),
    api(
        "api:customer-consent",
        # grants only for a channel the client acts for; a revoke is honoured from anywhere
        Call(
            "PUT",
            frozenset({CHANNEL, COMPLIANCE, ADMIN}),
            _consent("granted"),
            channel_scoped=True,
            label="grant",
        ),
        Call("PUT", frozenset({CHANNEL, COMPLIANCE, ADMIN}), _consent("revoked"), label="revoke"),
        path=lambda d: {"external_id": d.customer.external_id, "channel": "sms"},
    ),
    api("api:offer-list", Call("GET", EVERY_CLIENT)),
    api("api:offer-detail", Call("GET", EVERY_CLIENT), path=lambda d: {"code": d.offer.code}),
    api("api:campaign-list", Call("GET", frozenset({MARKETER, COMPLIANCE, ADMIN}))),
    api(
        "api:campaign-detail",
        Call("GET", frozenset({MARKETER, COMPLIANCE, ADMIN})),
        path=lambda d: {"code": d.campaign.code},
    ),
    # batch runs (API_ADDITIONS.md): read as campaigns are; resumed by marketers and by
    # the operators who run the workers
    api(
        "api:run-detail",
        Call("GET", frozenset({MARKETER, COMPLIANCE, ADMIN})),
        path=lambda d: {"run_id": d.run.pk},
    ),
    api(
        "api:run-resume",
        Call("POST", frozenset({MARKETER, ADMIN})),
        path=lambda d: {"run_id": d.run.pk},
    ),
    # campaign results (issue 12): read by marketers, compliance and admins
    api("api:kpis", Call("GET", frozenset({MARKETER, COMPLIANCE, ADMIN}))),
    api("api:audit-list", Call("GET", LEDGER_READERS)),
    api("api:audit-verify", Call("GET", LEDGER_READERS)),
)

ROOF_ROUTES = (
    public("login", Call("GET"), Call("POST", body=lambda d: {})),
    public("logout", Call("POST")),
    public("admin:login", Call("GET")),
    # Prometheus's scrape is guarded by network and bearer token, not by any role
    # (tests/foundation/test_metrics.py); open in dev and test, and no session or key
    # changes its answer.
    public("metrics", Call("GET", status=200)),
    # The admin's sign-out refuses non-staff by sending them to the admin index (which
    # sends them on to the admin's sign-in).
    Route("admin:logout", Surface.ADMIN, (Call("POST"),), refused_to="admin:index"),
)

# Every other route of the admin site (the namespace ``admin``): staff only, GET and
# POST alike.
ADMIN_NAMESPACE = "admin"
ADMIN_GROUP = Route("admin:*", Surface.ADMIN, (Call("GET"), Call("POST")))
ADMIN_PATH_VALUES = {
    "object_id": "0",
    "id": "0",
    "content_type_id": "0",
    "app_label": "offers",
    "url": "no-such-page/",
}

ROUTES: dict[str, Route] = {
    route.key: route for route in (*CONSOLE_ROUTES, *API_ROUTES, *ROOF_ROUTES)
}


def row_for(key: str, namespace: str) -> Route | None:
    """The row declared for a route: its own, else the admin group's."""
    if key in ROUTES:
        return ROUTES[key]
    if namespace == ADMIN_NAMESPACE:
        return ADMIN_GROUP
    return None
