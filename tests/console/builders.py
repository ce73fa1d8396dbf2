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
        # The compact form the store writes (engine.decision.to_compact): candidates as
        # codes and verdict ids into the decision's verdict table.
        "explanation": {
            "format": 2,
            "mode": "event",
            "channel": None,
            "event_type": "card_transaction",
            "event_id": "E1",
            "decided_at": now.isoformat(),
            "outcome": "released",
            "shadow_outcome": None,
            "control_group": False,
            "policy_version": 1,
            "snapshot_version": "snap-1",
            "model_versions": {"CARD": "3"},
            "hardship_events": [],
            "owed_shown": [],
            "factor_fields": [
                "propensity", "value", "lever", "context_weight", "source", "model_version",
                "context",
            ],
            "offers": [
                {
                    "rank": 1,
                    "offer_code": "CARD_FUEL",
                    "campaign_id": campaign.pk if campaign else None,
                    "campaign": "FUEL_PUSH",
                    "channel": "sms",
                    "content_version": 1,
                    "score": 12.5,
                    "score_factors": {
                        "propensity": 0.25,
                        "value": 100.0,
                        "lever": 1.0,
                        "context_weight": 0.5,
                        "source": "model",
                        "model_version": "3",
                    },
                    "reasons": [],
                    "deliver_after": None,
                    "arm": "A",
                }
            ],
            "would_have_offered": [],
            "shadow": [],
            "candidates": [
                {
                    "offer_code": "CARD_FUEL",
                    "campaign": "FUEL_PUSH",
                    "outcome": "released",
                    "k": [campaign.pk if campaign else None, "A", 0, 0, "sms"],
                    "v": [0, 1],
                    "f": [0.25, 100.0, 1.0, 0.5, "model", "3", None],
                    "ch": [["sms", [2], None]],
                },
                {
                    "offer_code": "LOAN_X",
                    "campaign": "FUEL_PUSH",
                    "outcome": "holds_product",
                    "k": [campaign.pk if campaign else None, "A", 0, 0, None],
                    "v": [0, 3],
                    "x": 3,
                },
            ],
            "verdicts": [
                ["not_in_audience", True, {"age": 41}],
                ["holds_product", True, {}],
                ["no_consent", True, {}],
                ["holds_product", False, {"held": "LOAN"}],
            ],
        },
    }  # fmt: skip
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
