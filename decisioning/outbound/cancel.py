"""Cancelling messages: the one path by which a queued or leased message stops.

Every cancellation — a revoke, do-not-contact, erasure, a response (the product is now
held, or was declined), or the pre-send gate refusing a message at lease time — goes
through ``messages_cancel_rows``: the message is marked cancelled with its reason, its
contact row stops counting against the customer's caps, and one ``message_cancelled``
audit record is written per message. Call inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from core.channels import OUTBOUND
from customers.models import Customer
from decisioning.choices import MessageStatus
from decisioning.models import Contact, Message
from decisioning.outbound.records import message_record
from ledger.services import audit_many
from offers.choices import OfferKind

PENDING = (MessageStatus.QUEUED, MessageStatus.LEASED)


def messages_cancel_rows(
    *, actor: Any, rows: Sequence[Message], reason: str, still: Q, now: datetime
) -> int:
    """Cancel ``rows`` (read with customer, offer and content) that still match ``still``;
    returns how many were cancelled. The caller decides what a shortfall means."""
    if not rows:
        return 0
    ids = [m.pk for m in rows]
    cancelled = Message.objects.filter(still, pk__in=ids).update(
        status=MessageStatus.CANCELLED, cancel_reason=reason, lease_expires_at=None, updated_at=now
    )
    Contact.objects.filter(message_id__in=ids).update(cancelled=True)
    audit_many(
        [
            message_record(
                m,
                actor=actor,
                action="message_cancelled",
                now=now,
                data={
                    "reason": reason,
                    "previous_status": m.status,
                    "offer_code": m.offer.code,
                    "content_version": m.content.version if m.content_id else None,
                },
            )
            for m in rows
        ]
    )
    return cancelled


def messages_cancel(
    *,
    actor: Any,
    messages: QuerySet[Message],
    reason: str,
    statuses: Iterable[str] = (MessageStatus.QUEUED,),
    now: datetime | None = None,
) -> int:
    """Cancel the given messages that are still in ``statuses``. The rows are locked (FOR
    UPDATE OF the messages only) so a channel leasing at the same moment either got them
    before us or skips them."""
    statuses = list(statuses)
    rows = list(
        messages.filter(status__in=statuses)
        .select_related("customer", "offer", "content")
        .select_for_update(of=("self",))
        .order_by("created_at", "id")
    )
    return messages_cancel_rows(
        actor=actor,
        rows=rows,
        reason=reason,
        still=Q(status__in=statuses),
        now=now or timezone.now(),
    )


def messages_cancel_for_customer(
    *,
    actor: Any,
    customer: Customer,
    channels: Iterable[str],
    reason: str,
    sales_only: bool = True,
) -> int:
    """Cancel the customer's queued and leased messages on ``channels`` (sales offers only
    unless ``sales_only`` is false)."""
    pending = pending_for_customer(customer=customer, channels=channels, sales_only=sales_only)
    return messages_cancel(actor=actor, messages=pending, reason=reason, statuses=PENDING)


def pending_for_customer(
    *, customer: Customer, channels: Iterable[str], sales_only: bool = True
) -> QuerySet[Message]:
    """The customer's queued and leased messages on ``channels``: what a consent revoke or
    do-not-contact cancels (sales offers only unless ``sales_only`` is false)."""
    pending = Message.objects.filter(
        customer=customer, channel__in=sorted(set(channels) & OUTBOUND), status__in=PENDING
    )
    return pending.filter(offer__kind=OfferKind.SALES) if sales_only else pending
