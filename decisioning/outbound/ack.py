"""Acks: the channel says whether a leased message was delivered.

``provider_ref`` and ``error`` are whatever the gateway sent — a bounce quoting the
address, a provider id embedding the phone number — so they are stored on the message
(which erasure blanks) and the ledger keeps only their class and keyed hash
(``ledger.redaction.free_text``): for an error, its category.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import Conflict, NotFound, ValidationFailed
from decisioning.choices import MessageStatus
from decisioning.models import Contact, Message
from ledger.choices import AuditKind
from ledger.redaction import free_text
from ledger.services import audit

# --- acks --------------------------------------------------------------------------------


ACK_STATUSES = (MessageStatus.DELIVERED, MessageStatus.FAILED)

# A delivery error's category, from the words gateways use (first match wins).
ERROR_CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (category, re.compile(pattern, re.IGNORECASE))
    for category, pattern in (
        ("opted_out", r"\bstop\b|opt(ed)?[ -]?out|unsubscrib|blocked"),
        ("invalid_address", r"invalid|unknown|no such|not exist|malformed|unregistered"),
        ("bounced", r"bounce|undeliverable|mailbox (is )?full|reject|refused"),
        ("unreachable", r"unreachable|switched off|offline|absent|not reachable"),
        ("throttled", r"throttl|rate[ -]?limit|quota|too many"),
        ("timeout", r"time[ -]?d?[ -]?out"),
    )
)


def error_category(error: str) -> str:
    """``opted_out``, ``invalid_address``, ``bounced``, ``unreachable``, ``throttled``,
    ``timeout`` or ``other``; ``none`` for no error."""
    if not (error or "").strip():
        return "none"
    head = error[:1000]
    for category, pattern in ERROR_CATEGORIES:
        if pattern.search(head):
            return category
    return "other"


@dataclass(frozen=True, slots=True)
class AckResult:
    message: Message
    duplicate: bool


def message_ack(
    *,
    actor: Any,
    message_id: uuid.UUID | str,
    status: str,
    provider_ref: str = "",
    error: str = "",
    lease_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> AckResult:
    """Record delivery (or failure) of a leased message. Repeating the same ack is
    harmless; acking a message that is not out with a channel is a conflict.

    ``lease_id`` names the lease the ack answers: one naming an older lease (it expired and
    the message was leased again, perhaps to another holder) is a conflict and changes
    nothing, so a stale holder never overwrites the newer holder's outcome. Without it the
    ack is taken for the current lease (clients built before lease ids).

    A failed delivery marks the contact row cancelled: the customer never saw the offer,
    so it does not spend their attention budget.
    """
    if status not in ACK_STATUSES:
        raise ValidationFailed(
            "The ack is not valid.", fields={"status": ["must be delivered or failed"]}
        )
    now = now or timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("customer", "offer")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            raise NotFound("No such message.")
        if lease_id is not None and message.lease_id != lease_id:
            raise Conflict(
                "The ack names an older lease of this message; it was leased again since, "
                "and only the current lease's holder can acknowledge it.",
                fields={"lease_id": ["not the message's current lease"]},
            )
        if message.status == status:
            return AckResult(message, duplicate=True)
        if message.status != MessageStatus.LEASED:
            detail = f" ({message.cancel_reason})" if message.cancel_reason else ""
            raise Conflict(
                f"The message is {message.status}{detail}; only a leased message can be "
                "acknowledged.",
                fields={"status": [f"message is {message.status}"]},
            )
        message.status = status
        message.provider_ref = (provider_ref or "")[:200]
        message.error = (error or "")[:4000]
        message.save(update_fields=["status", "provider_ref", "error", "updated_at"])
        if status == MessageStatus.FAILED:
            Contact.objects.filter(message=message).update(cancelled=True)
        audit(
            kind=AuditKind.MESSAGE,
            action=f"message_{status}",
            actor=actor,
            object_type="message",
            object_id=message.pk,
            object_repr=message.offer.code,
            customer_ref=message.customer.pseudonym,
            channel=message.channel,
            data={
                "message_id": str(message.pk),
                "decision_id": str(message.decision_id),
                "offer_code": message.offer.code,
                "provider_ref": free_text(message.provider_ref, kind="provider_ref"),
                "error": free_text(message.error, kind=error_category(message.error)),
                "lease_count": message.lease_count,
                "lease_id": str(message.lease_id) if message.lease_id else None,
            },
            at=now,
        )
    return AckResult(message, duplicate=False)
