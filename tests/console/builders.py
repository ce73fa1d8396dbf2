"""Builders the console tests share."""

from __future__ import annotations

import datetime
import uuid

from django.utils import timezone

from campaigns.models import Campaign
from compliance.models import ApprovalRequest
from customers.models import Customer
from decisioning.choices import DecisionMode
from decisioning.models import Decision
from offers import services as offer_services
from offers.models import Offer


def make_decision(customer: Customer, campaign: Campaign | None, **overrides) -> Decision:
    now = overrides.pop("created_at", timezone.now())
    fields = {
        "id": uuid.uuid4(),
        "customer": customer,
        "mode": DecisionMode.EVENT,
        "channel": "sms",
        "campaign": campaign,
        "created_at": now,
        "offers_released": 1,
        "top_offer_code": "CARD_FUEL",
        "outcome_reason": "released",
        "snapshot_version": "snap-1",
        "policy_version": 1,
        "explanation": {
            "outcome": "released",
            "control_group": False,
            "policy_version": 1,
            "snapshot_version": "snap-1",
            "model_versions": {"CARD": "3"},
            "offers": [
                {
                    "rank": 1,
                    "offer_code": "CARD_FUEL",
                    "product_code": "CARD",
                    "kind": "sales",
                    "campaign": "FUEL_PUSH",
                    "channel": "sms",
                    "content_version": 1,
                    "content_hash": "ab" * 32,
                    "score": 12.5,
                    "score_factors": {
                        "propensity": 0.25,
                        "value": 100.0,
                        "lever": 1.0,
                        "context_weight": 0.5,
                        "source": "model",
                        "model_version": "3",
                    },
                    "likelihood": "low",
                    "reasons": [],
                    "arm": "A",
                }
            ],
            "suppressed": [
                {
                    "offer_code": "LOAN_X",
                    "campaign": "FUEL_PUSH",
                    "channel": "sms",
                    "reason": "holds_product",
                    "detail": {"held": "LOAN"},
                }
            ],
            "candidates": [
                {
                    "offer_code": "CARD_FUEL",
                    "product_code": "CARD",
                    "family": "cards",
                    "kind": "sales",
                    "campaign": "FUEL_PUSH",
                    "arm": "A",
                    "shadow": False,
                    "outcome": "released",
                    "channel": "sms",
                    "score": 12.5,
                    "score_factors": {
                        "propensity": 0.25,
                        "value": 100.0,
                        "lever": 1.0,
                        "context_weight": 0.5,
                        "source": "model",
                        "model_version": "3",
                    },
                    "verdicts": [
                        {"rule": "not_in_audience", "passed": True, "detail": {"age": 41}},
                        {"rule": "holds_product", "passed": True, "detail": {}},
                    ],
                    "channels": [
                        {
                            "channel": "sms",
                            "passed": True,
                            "verdicts": [{"rule": "no_consent", "passed": True, "detail": {}}],
                        }
                    ],
                }
            ],
        },
    }
    fields.update(overrides)
    return Decision.objects.create(**fields)


def pending_content_approval(maker, offer: Offer, *, body: str | None = None) -> ApprovalRequest:
    """A new content version of ``offer`` on e-mail, submitted by ``maker``."""
    content = offer_services.content_create_version(
        actor=maker,
        offer=offer,
        channel="email",
        headline="Fuel card",
        body=body or "Save on fuel with our card.",
        call_to_action="Apply",
    )
    return offer_services.content_submit_for_approval(actor=maker, content=content)


def days_ago(days: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(days=days)
