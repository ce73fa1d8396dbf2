"""The outbound queue's audit records: releases at lease time, and message lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from decisioning.models import Decision, Message
from ledger.choices import AuditKind
from ledger.services import build_record


def explained_offers(messages: list[Message]) -> dict[Any, list[dict[str, Any]]]:
    """The released offers of each message's decision as its stored explanation has them
    (model version, factors, reasons), in one query that reads only that part of it."""
    rows = Decision.objects.filter(pk__in={m.decision_id for m in messages}).values_list(
        "pk", "explanation__offers"
    )
    return {pk: offers if isinstance(offers, list) else [] for pk, offers in rows}


def _offer_explanation(message: Message, explained: list[dict[str, Any]]) -> dict[str, Any]:
    for offer in explained:
        if offer.get("offer_code") == message.offer.code and offer.get("channel") in (
            message.channel,
            None,
        ):
            return offer
    return {}


def released_record(
    message: Message,
    *,
    actor: Any,
    now: datetime,
    lease_expires_at: datetime,
    explained: list[dict[str, Any]],
) -> Any:
    decision = message.decision
    explained_offer = _offer_explanation(message, explained)
    factors = explained_offer.get("score_factors") or {}
    event = decision.event
    return build_record(
        kind=AuditKind.OFFER_RELEASED,
        action="message_leased",
        actor=actor,
        object_type="message",
        object_id=message.pk,
        object_repr=message.offer.code,
        customer_ref=message.customer.pseudonym,
        channel=message.channel,
        data={
            "message_id": str(message.pk),
            "decision_id": str(decision.pk),
            "offer_code": message.offer.code,
            "product_code": message.offer.product.code,
            "kind": message.offer.kind,
            "campaign": message.campaign.code if message.campaign else None,
            "content_version": message.content.version,
            "content_hash": message.content.content_hash,
            "triggering_event": (
                {"event_id": event.event_id, "type": event.type} if event is not None else None
            ),
            "model_version": factors.get("model_version"),
            "policy_version": decision.policy_version,
            "snapshot_version": decision.snapshot_version,
            "score": explained_offer.get("score"),
            "score_factors": factors,
            "rationale": explained_offer.get("reasons", []),
            "lease_count": message.lease_count + 1,
            "lease_expires_at": lease_expires_at,
        },
        at=now,
    )


def message_record(message: Message, *, actor: Any, action: str, now: datetime, data: dict):
    return build_record(
        kind=AuditKind.MESSAGE,
        action=action,
        actor=actor,
        object_type="message",
        object_id=message.pk,
        object_repr=message.offer.code,
        customer_ref=message.customer.pseudonym,
        channel=message.channel,
        data={"message_id": str(message.pk), "decision_id": str(message.decision_id), **data},
        at=now,
    )
