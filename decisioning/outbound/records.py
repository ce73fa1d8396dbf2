"""The outbound queue's audit records: releases at lease time, and message lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from decisioning.decisions.released import released_audit_data, released_from_message
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


def released_record(
    message: Message,
    *,
    actor: Any,
    now: datetime,
    lease_expires_at: datetime,
    lease_id: Any,
    address: dict[str, Any],
    explained: list[dict[str, Any]],
) -> Any:
    """The ``offer_released`` record of a message leased now (``decisions.released``)."""
    decision = message.decision
    released = released_from_message(message, explained)
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
            **released_audit_data(
                released,
                decision_id=decision.pk,
                event=decision.event,
                policy_version=decision.policy_version,
                snapshot_version=decision.snapshot_version,
            ),
            "lease_count": message.lease_count + 1,
            "lease_expires_at": lease_expires_at,
            "lease_id": str(lease_id),
            "address": address,
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
