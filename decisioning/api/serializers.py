"""Input and output serializers of the channel actions (API.md), one pair per operation.

Outputs that sit on the hot path (decisions, leases) build their dict directly in
``to_representation``; the declared fields are what the OpenAPI schema says, and the
tests check the two agree. A decision's offers are projections of the one released-offer
shape (``decisioning.decisions.released``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import (
    AwareDateTimeField,
    JSONObjectField,
    StrictIntegerField,
    StrictUUIDField,
    text,
)
from core.channels import INBOUND
from core.choices import Channel
from customers.api.fields import CustomerReferenceField
from customers.choices import EventStatus
from decisioning.choices import DecisionMode, MessageStatus, Outcome, OverrideAction
from decisioning.decisions.explanation import decision_explanation
from decisioning.decisions.released import offer_body, suppressed_body
from decisioning.models import Decision, Message, Override, Response
from decisioning.outbound.lease import MAX_LEASE, MAX_LEASE_SECONDS


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


# --- events --------------------------------------------------------------------------------


class EventInputSerializer(serializers.Serializer):
    event_id = text(128, help_text="The channel's id for this signal; the idempotency key.")
    type = text(64, help_text="payment_failed, card_transaction, page_view, ... (any string).")
    occurred_at = AwareDateTimeField()
    customer = CustomerReferenceField()
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    payload = JSONObjectField(required=False, default=dict)


class EventAcceptedSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["accepted", "unresolved", "erased"],
        help_text="unresolved: the customer is not known yet; the event is kept and "
        "processed when an identity link or profile names them. erased (addition): the "
        "event names a customer who was erased at their request (by the erased id, their "
        "former id or a former identifier); it is kept without the identifier and never "
        "processed.",
    )
    duplicate = serializers.BooleanField()

    def to_representation(self, ingested) -> dict[str, Any]:
        event = ingested.event
        status = {EventStatus.UNRESOLVED: "unresolved", EventStatus.ERASED: "erased"}.get(
            event.status, "accepted"
        )
        return {"event_id": event.event_id, "status": status, "duplicate": ingested.duplicate}


# --- decisions -----------------------------------------------------------------------------


class DecisionContextSerializer(serializers.Serializer):
    event_type = text(
        64,
        required=False,
        help_text="What brought the customer here, e.g. "
        "loan_calculator_used: offers relevant to it get their context weight.",
    )
    page = text(
        200,
        required=False,
        help_text="The page or screen the customer is on, e.g. /loans/personal (a URL's path "
        "is used; query and fragment are ignored): offers whose trigger weights name a "
        "matching page pattern (/loans/*) get that context weight.",
    )


class DecisionInputSerializer(serializers.Serializer):
    customer = CustomerReferenceField()
    channel = serializers.ChoiceField(choices=sorted(INBOUND), help_text="Inbound channels only.")
    context = DecisionContextSerializer(required=False)
    max_offers = StrictIntegerField(min_value=1, max_value=10, required=False)


class OfferContentSerializer(serializers.Serializer):
    headline = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    call_to_action = serializers.CharField(allow_blank=True)
    disclosure = serializers.CharField(allow_blank=True)


class ScoreFactorsSerializer(serializers.Serializer):
    propensity = serializers.FloatField()
    value = serializers.FloatField()
    lever = serializers.FloatField()
    context_weight = serializers.FloatField()


class DecisionOfferSerializer(serializers.Serializer):
    rank = serializers.IntegerField(min_value=1)
    offer_code = serializers.CharField()
    product_code = serializers.CharField()
    campaign = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices, help_text="Where it is released.")
    content_version = serializers.IntegerField(min_value=1)
    content = OfferContentSerializer()
    score = serializers.FloatField()
    score_factors = ScoreFactorsSerializer()
    reasons = serializers.ListField(child=serializers.CharField())


class SuppressedOfferSerializer(serializers.Serializer):
    offer_code = serializers.CharField()
    reason = serializers.CharField(help_text="Stable snake_case reason code.")
    campaign = serializers.CharField(required=False)
    channel = serializers.CharField(allow_null=True, required=False)


class StoredOfferSerializer(DecisionOfferSerializer):
    """An offer as the decision ledger keeps it: batch decisions record the content
    version but not its words, and an erased customer's decisions keep only which offer
    went where — so words, score and factors may be null."""

    channel = serializers.ChoiceField(choices=Channel.choices, allow_null=True)
    content = OfferContentSerializer(allow_null=True)
    score = serializers.FloatField(allow_null=True)
    score_factors = ScoreFactorsSerializer(allow_null=True)


class DecisionSerializer(serializers.Serializer):
    decision_id = serializers.UUIDField()
    customer = serializers.CharField(help_text="The customer's external_id.")
    channel = serializers.CharField(allow_blank=True)
    control_group = serializers.BooleanField(
        help_text="The customer is in a campaign's holdout: nothing offered, still recorded."
    )
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    offers = DecisionOfferSerializer(many=True)
    suppressed = SuppressedOfferSerializer(many=True)

    def to_representation(self, decision: Decision) -> dict[str, Any]:
        return {
            "decision_id": str(decision.pk),
            "customer": decision.customer.external_id,
            "channel": decision.channel,
            "control_group": decision.control_group,
            "created_at": _iso(decision.created_at),
            "expires_at": _iso(decision.expires_at),
            "offers": [offer_body(item) for item in decision.offers or ()],
            "suppressed": [suppressed_body(item) for item in decision.suppressed or ()],
        }


class EventRefSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    type = serializers.CharField()


class DecisionDetailSerializer(DecisionSerializer):
    offers = StoredOfferSerializer(many=True)
    mode = serializers.ChoiceField(choices=DecisionMode.choices)
    event = EventRefSerializer(allow_null=True, help_text="The triggering event, if any.")
    campaign = serializers.CharField(allow_null=True, help_text="Event and batch decisions.")
    outcome = serializers.CharField(
        help_text="released, control_group, no_candidates or the "
        "reason that removed the last candidate."
    )
    policy_version = serializers.IntegerField(allow_null=True)
    snapshot_version = serializers.CharField()
    explanation = JSONObjectField(
        help_text="Every candidate with each rule's verdict and the values it saw, every "
        "score factor, model and policy versions (DESIGN.md rule 5): the view the console "
        "shows (decisioning.decisions.explanation). Each verdict is "
        "{rule, label, passed, exempt, state, detail}; `trace.source` says whether the "
        "trace was stored with the decision or, for batch decisions, replayed (with "
        "`trace.matches`)."
    )

    def to_representation(self, decision: Decision) -> dict[str, Any]:
        body = super().to_representation(decision)
        event = decision.event
        body.update(
            {
                "mode": decision.mode,
                "event": {"event_id": event.event_id, "type": event.type} if event else None,
                "campaign": decision.campaign.code if decision.campaign else None,
                "outcome": decision.outcome_reason,
                "policy_version": decision.policy_version,
                "snapshot_version": decision.snapshot_version,
                "explanation": decision_explanation(decision),
            }
        )
        return body


# --- messages ------------------------------------------------------------------------------


class LeaseInputSerializer(serializers.Serializer):
    max = StrictIntegerField(min_value=1, max_value=MAX_LEASE, default=100)
    lease_seconds = StrictIntegerField(min_value=1, max_value=MAX_LEASE_SECONDS, default=60)


CONTACT_SCHEMA = {
    "type": "object",
    "description": "Where to deliver: sms -> phone, email -> email, push -> device_id.",
    "properties": {
        "phone": {"type": "string"},
        "email": {"type": "string"},
        "device_id": {"type": "string"},
    },
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
}


@extend_schema_field(CONTACT_SCHEMA)
class ContactField(serializers.DictField):
    pass


class LeasedMessageSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    customer = serializers.CharField(help_text="The customer's external_id.")
    contact = ContactField()
    offer_code = serializers.CharField()
    content = OfferContentSerializer()
    content_version = serializers.IntegerField(min_value=1)
    decision_id = serializers.UUIDField()
    lease_expires_at = serializers.DateTimeField()
    lease_id = serializers.UUIDField(
        help_text="Addition: this lease's id. Send it back in the ack: an ack naming an "
        "older lease of the message (one that expired and was leased again) is 409."
    )

    def to_representation(self, leased) -> dict[str, Any]:
        message: Message = leased.message
        content = message.content
        return {
            "message_id": str(message.pk),
            "customer": message.customer.external_id,
            "contact": leased.contact,
            "offer_code": message.offer.code,
            "content": {
                "headline": content.headline,
                "body": content.body,
                "call_to_action": content.call_to_action,
                "disclosure": content.disclosure,
            },
            "content_version": content.version,
            "decision_id": str(message.decision_id),
            "lease_expires_at": _iso(message.lease_expires_at),
            "lease_id": str(message.lease_id),
        }


class LeaseSerializer(serializers.Serializer):
    messages = LeasedMessageSerializer(many=True)

    def to_representation(self, result) -> dict[str, Any]:
        item = LeasedMessageSerializer()
        return {"messages": [item.to_representation(leased) for leased in result.leased]}


class AckInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[MessageStatus.DELIVERED, MessageStatus.FAILED])
    provider_ref = text(200, blank=True, required=False, default="")
    error = text(4000, blank=True, required=False, default="")
    lease_id = StrictUUIDField(
        required=False,
        allow_null=True,
        help_text="Addition: the lease this ack answers (from the lease answer). Without it "
        "the ack is taken for the current lease only while that lease has not expired.",
    )


class AckSerializer(serializers.Serializer):
    message_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=[MessageStatus.DELIVERED, MessageStatus.FAILED])
    provider_ref = serializers.CharField(allow_blank=True)
    duplicate = serializers.BooleanField(help_text="True when this ack repeats one on record.")

    def to_representation(self, result) -> dict[str, Any]:
        message = result.message
        return {
            "message_id": str(message.pk),
            "status": message.status,
            "provider_ref": message.provider_ref,
            "duplicate": result.duplicate,
        }


# --- responses and overrides -----------------------------------------------------------------


class ResponseInputSerializer(serializers.Serializer):
    response_id = text(128, help_text="The channel's id for this response; the idempotency key.")
    decision_id = StrictUUIDField(required=False, allow_null=True)
    message_id = StrictUUIDField(required=False, allow_null=True)
    customer = CustomerReferenceField(
        required=False,
        help_text="Addition: whose response, when it names no decision or message.",
    )
    offer_code = text(48)
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    occurred_at = AwareDateTimeField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    agent_id = text(100, blank=True, required=False, default="")


class ResponseSerializer(serializers.Serializer):
    response_id = serializers.CharField()
    customer = serializers.CharField(help_text="The customer's external_id.")
    decision_id = serializers.UUIDField(allow_null=True)
    message_id = serializers.UUIDField(allow_null=True)
    offer_code = serializers.CharField()
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    occurred_at = serializers.DateTimeField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    agent_id = serializers.CharField(allow_blank=True)
    recorded_at = serializers.DateTimeField()
    duplicate = serializers.BooleanField()

    def to_representation(self, recorded) -> dict[str, Any]:
        response: Response = recorded.response
        return {
            "response_id": response.response_id,
            "customer": response.customer.external_id,
            "decision_id": str(response.decision_id) if response.decision_id else None,
            "message_id": str(response.message_id) if response.message_id else None,
            "offer_code": response.offer.code,
            "outcome": response.outcome,
            "occurred_at": _iso(response.occurred_at),
            "channel": response.channel,
            "agent_id": response.agent_id,
            "recorded_at": _iso(response.created_at),
            "duplicate": recorded.duplicate,
        }


class OverrideInputSerializer(serializers.Serializer):
    decision_id = StrictUUIDField()
    agent_id = text(100)
    action = serializers.ChoiceField(choices=OverrideAction.choices)
    offer_code = text(
        48,
        required=False,
        allow_null=True,
        help_text="The offer made instead (replace) or the one suppressed.",
    )
    reason = text(2000)


class OverrideSerializer(serializers.Serializer):
    override_id = serializers.IntegerField()
    decision_id = serializers.UUIDField()
    agent_id = serializers.CharField()
    action = serializers.ChoiceField(choices=OverrideAction.choices)
    offer_code = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    def to_representation(self, override: Override) -> dict[str, Any]:
        return {
            "override_id": override.pk,
            "decision_id": str(override.decision_id),
            "agent_id": override.agent_id,
            "action": override.action,
            "offer_code": override.offer.code if override.offer else None,
            "reason": override.reason,
            "created_at": _iso(override.created_at),
        }
