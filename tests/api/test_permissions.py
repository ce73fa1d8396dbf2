"""Who may call what: every role, a channel client of the wrong channel, and no key,
against every endpoint."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.utils import timezone

from decisioning.models import Decision, Message
from tests.api.conftest import ALL_CHANNELS, Api, error_of
from tests.factories import ConsentFactory, CustomerFactory, OfferContentFactory

pytestmark = pytest.mark.django_db

PRINCIPALS = ["none", "channel", "wrong_channel", "marketer", "compliance", "analyst", "admin"]
ROLES = {"channel", "wrong_channel", "marketer", "compliance", "analyst", "admin"}


@pytest.fixture
def world(db):
    """C123 with an inbound decision on the branch and a leased SMS message."""
    customer = CustomerFactory(external_id="C123")
    ConsentFactory(customer=customer, channel="sms")
    content = OfferContentFactory(channel="sms", offer__code="OFFER_X")
    now = timezone.now()
    decision = Decision.objects.create(
        customer=customer,
        mode="inbound",
        channel="branch",
        created_at=now,
        snapshot_version="test",
        offers=[
            {
                "rank": 1,
                "offer_code": "OFFER_X",
                "product_code": content.offer.product.code,
                "campaign": "C",
                "channel": "branch",
                "content_version": 1,
                "content": {"headline": "h", "body": "b", "call_to_action": "", "disclosure": ""},
                "score": 1.0,
                "score_factors": {"propensity": 1, "value": 1, "lever": 1, "context_weight": 1},
                "reasons": [],
            }
        ],
    )
    message = Message.objects.create(
        decision=decision,
        customer=customer,
        offer=content.offer,
        content=content,
        channel="sms",
        status="leased",
        deliver_after=now,
        lease_expires_at=now + datetime.timedelta(minutes=5),
        created_at=now,
    )
    return {"decision": str(decision.pk), "message": str(message.pk)}


def _consent(status):
    return {"status": status, "source": "test", "captured_at": timezone.now().isoformat()}


def endpoints(world):
    d, m = world["decision"], world["message"]
    return {
        "health": ("get", "/api/v1/health/", None),
        "whoami": ("get", "/api/v1/whoami/", None),
        "customer_put": ("put", "/api/v1/customers/C123/", {"region": "Porto"}),
        "customer_get": ("get", "/api/v1/customers/C123/", None),
        "customer_delete": ("delete", "/api/v1/customers/C123/", None),
        "identity_post": (
            "post",
            "/api/v1/customers/C123/identities/",
            {"type": "card_token", "value": "tok"},
        ),
        "consent_grant": ("put", "/api/v1/customers/C123/consents/sms/", _consent("granted")),
        "consent_revoke": ("put", "/api/v1/customers/C123/consents/sms/", _consent("revoked")),
        "event_post": (
            "post",
            "/api/v1/events/",
            {
                "event_id": "E1",
                "type": "app_login",
                "occurred_at": "2026-01-01T10:00:00Z",
                "customer": {"external_id": "C123"},
                "channel": "sms",
            },
        ),
        "decision_post": (
            "post",
            "/api/v1/decisions/",
            {"customer": {"external_id": "C123"}, "channel": "branch"},
        ),
        "decision_get": ("get", f"/api/v1/decisions/{d}/", None),
        "lease": ("post", "/api/v1/channels/sms/messages/lease/", {"max": 1}),
        "ack": ("post", f"/api/v1/messages/{m}/ack/", {"status": "delivered"}),
        "response_post": (
            "post",
            "/api/v1/responses/",
            {
                "response_id": "R1",
                "decision_id": d,
                "offer_code": "OFFER_X",
                "outcome": "click",
                "occurred_at": "2026-01-01T10:00:00Z",
                "channel": "branch",
            },
        ),
        "override_post": (
            "post",
            "/api/v1/overrides/",
            {"decision_id": d, "agent_id": "a1", "action": "suppress", "reason": "r"},
        ),
        "offers": ("get", "/api/v1/offers/", None),
        "campaigns": ("get", "/api/v1/campaigns/", None),
        "audit": ("get", "/api/v1/audit/", None),
        "audit_verify": ("get", "/api/v1/audit/verify/", None),
    }


CHANNEL_ACTION = {"channel"}
ALLOWED = {
    "health": {"none", *ROLES},
    "whoami": ROLES,
    "customer_put": {"channel", "wrong_channel", "marketer", "admin"},
    "customer_get": {"channel", "wrong_channel", "marketer", "compliance", "admin"},
    "customer_delete": {"compliance", "admin"},
    "identity_post": {"channel", "wrong_channel", "marketer", "admin"},
    "consent_grant": {"channel", "compliance", "admin"},
    "consent_revoke": {"channel", "wrong_channel", "compliance", "admin"},
    "event_post": {"channel", "admin"},
    "decision_post": CHANNEL_ACTION,
    "decision_get": {"channel", "compliance", "admin"},
    "lease": CHANNEL_ACTION,
    "ack": CHANNEL_ACTION,
    "response_post": CHANNEL_ACTION,
    "override_post": CHANNEL_ACTION,
    "offers": ROLES,
    "campaigns": {"marketer", "compliance", "admin"},
    "audit": {"compliance", "admin"},
    "audit_verify": {"compliance", "admin"},
}


def principal_api(make_api, principal):
    if principal == "none":
        return Api()
    if principal == "channel":
        return make_api("channel", ALL_CHANNELS)
    if principal == "wrong_channel":
        return make_api("channel", ["atm"])
    return make_api(principal)


def call(api, method, path, body):
    if method in ("get", "delete"):
        return getattr(api, method)(path)
    return getattr(api, method)(path, body)


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("endpoint", sorted(ALLOWED))
def test_permission_matrix(world, make_api, endpoint, principal):
    method, path, body = endpoints(world)[endpoint]
    response = call(principal_api(make_api, principal), method, path, body)
    assert response.status_code < 500, response.content
    if principal in ALLOWED[endpoint]:
        assert response.status_code not in (401, 403), (response.status_code, response.content)
    elif principal == "none":
        assert response.status_code == 401
        assert error_of(response)["code"] == "not_authenticated"
    else:
        assert response.status_code == 403, (response.status_code, response.content)
        assert error_of(response)["code"] == "permission_denied"


def test_every_endpoint_is_in_the_matrix(world):
    schema = Api().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    operations = {
        (method, path)
        for path, item in json.loads(schema.content)["paths"].items()
        for method in item
    }
    covered = {(m, p) for m, p, _ in endpoints(world).values()}
    # Detail routes of the catalog (additions) are covered by the list's roles.
    uncovered = {
        (m, p)
        for m, p in operations
        if "{code}" not in p and not any(m == cm and _matches(p, cp) for cm, cp in covered)
    }
    assert not uncovered, uncovered


def _matches(template: str, path: str) -> bool:
    pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
    return re.match(pattern, path) is not None
