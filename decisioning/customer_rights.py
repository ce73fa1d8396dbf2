"""A customer's rights that reach the message queue: consent changes, do-not-contact and
erasure.

Consent, suppression and erasure records belong to compliance, but the queued and
leased messages they must stop belong to decisioning — the highest layer involved — so
the orchestration lives here and each action runs in ONE transaction: when it returns,
no cancelled message can still be leased, and the pre-send gate re-checks at lease time
anyway.

Marketing consent governs sales offers: a revoke (per channel, or ``all``, the global
opt-out) and do-not-contact cancel queued and leased *sales* messages; service actions
(payment-failure help, fraud notices) are exempt, as in the engine. Erasure cancels
everything.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from compliance.choices import ConsentChannel, ConsentStatus, SuppressionScope
from compliance.models import Consent, DoNotContact, ErasureRequest
from compliance.services import (
    consent_set,
    consents_revoke_all,
    do_not_contact_set,
    erasure_record,
    suppression_add,
)
from core.channels import OUTBOUND
from customers.models import Customer
from customers.services import customer_erase_pii
from decisioning.choices import MessageStatus
from decisioning.models import Contact, Message
from decisioning.services import decisions_redact_for_customer
from ledger.choices import AuditKind
from ledger.services import audit_many, build_record
from offers.choices import OfferKind

PENDING = (MessageStatus.QUEUED, MessageStatus.LEASED)
REASON_CONSENT_REVOKED = "consent_revoked"
REASON_DO_NOT_CONTACT = "do_not_contact"
REASON_ERASED = "erased"


@dataclass(frozen=True, slots=True)
class ConsentChange:
    consent: Consent
    cancelled_messages: int


@dataclass(frozen=True, slots=True)
class DoNotContactChange:
    entry: DoNotContact
    cancelled_messages: int


def messages_cancel_for_customer(
    *,
    actor: Any,
    customer: Customer,
    channels: Iterable[str],
    reason: str,
    sales_only: bool = True,
) -> int:
    """Cancel the customer's queued and leased messages on ``channels`` (their contact
    rows are marked cancelled so they stop counting against the caps). Audited one
    record per message. Call inside the caller's transaction."""
    channels = sorted(set(channels) & OUTBOUND)
    if not channels:
        return 0
    pending = Message.objects.filter(customer=customer, status__in=PENDING, channel__in=channels)
    if sales_only:
        pending = pending.filter(offer__kind=OfferKind.SALES)
    # Lock them (FOR UPDATE OF the messages only) so a channel leasing at the same moment
    # either got them before us or skips them.
    rows = list(
        pending.select_for_update(of=("self",))
        .order_by("created_at", "id")
        .values_list("id", "status", "channel", "decision_id", "offer__code", "content__version")
    )
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    now = timezone.now()
    cancelled = Message.objects.filter(id__in=ids, status__in=PENDING).update(
        status=MessageStatus.CANCELLED, cancel_reason=reason, updated_at=now
    )
    Contact.objects.filter(message_id__in=ids).update(cancelled=True)
    audit_many(
        [
            build_record(
                kind=AuditKind.MESSAGE,
                action="message_cancelled",
                actor=actor,
                object_type="message",
                object_id=message_id,
                customer_ref=customer.pseudonym,
                channel=channel,
                data={
                    "reason": reason,
                    "previous_status": status,
                    "decision_id": decision_id,
                    "offer_code": offer_code,
                    "content_version": content_version,
                },
                at=now,
            )
            for message_id, status, channel, decision_id, offer_code, content_version in rows
        ]
    )
    return cancelled


def consent_change(
    *,
    actor: Any,
    customer: Customer,
    channel: str,
    status: str,
    source: str,
    captured_at: datetime.datetime,
) -> ConsentChange:
    """Record a consent change; a revoke cancels that channel's queued and leased sales
    messages (every outbound channel's for ``all``) before returning."""
    with transaction.atomic():
        consent = consent_set(
            actor=actor,
            customer=customer,
            channel=channel,
            status=status,
            source=source,
            captured_at=captured_at,
        )
        cancelled = 0
        if consent.status == ConsentStatus.REVOKED:
            channels = OUTBOUND if channel == ConsentChannel.ALL else {channel}
            cancelled = messages_cancel_for_customer(
                actor=actor, customer=customer, channels=channels, reason=REASON_CONSENT_REVOKED
            )
    return ConsentChange(consent=consent, cancelled_messages=cancelled)


def do_not_contact_change(
    *, actor: Any, customer: Customer, reason: str, source: str = ""
) -> DoNotContactChange:
    """Set do-not-contact and cancel the customer's pending sales messages."""
    with transaction.atomic():
        entry = do_not_contact_set(actor=actor, customer=customer, reason=reason, source=source)
        cancelled = messages_cancel_for_customer(
            actor=actor,
            customer=customer,
            channels=OUTBOUND,
            reason=REASON_DO_NOT_CONTACT,
        )
    return DoNotContactChange(entry=entry, cancelled_messages=cancelled)


def customer_erase(*, actor: Any, customer: Customer) -> ErasureRequest:
    """The right to be forgotten, in one transaction: every pending message cancelled,
    consents revoked, a permanent suppression of everything (reason ``erased``), PII
    blanked and identities removed, and a completed ErasureRequest. The audit ledger
    keeps only the pseudonymous reference, so it is never touched. Erasing an erased
    customer returns the earlier request."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.is_erased:
            earlier = (
                ErasureRequest.objects.filter(customer=customer).order_by("-requested_at").first()
            )
            if earlier is not None:
                return earlier
        cancelled = messages_cancel_for_customer(
            actor=actor,
            customer=customer,
            channels=OUTBOUND,
            reason=REASON_ERASED,
            sales_only=False,
        )
        revoked = consents_revoke_all(actor=actor, customer=customer, source="erasure")
        has_permanent = customer.suppressions.filter(
            scope=SuppressionScope.ALL, until__isnull=True, reason=REASON_ERASED
        ).exists()
        if not has_permanent:
            suppression_add(
                actor=actor,
                customer=customer,
                scope=SuppressionScope.ALL,
                until=None,
                reason=REASON_ERASED,
                source="erasure",
            )
        blanked = customer_erase_pii(actor=actor, customer=customer)
        redacted = decisions_redact_for_customer(customer=customer)
        customer.refresh_from_db()
        return erasure_record(
            actor=actor,
            customer=customer,
            summary={
                "messages_cancelled": cancelled,
                "consents_revoked": revoked,
                "suppressed": True,
                "decisions_redacted": redacted,
                **blanked,
            },
        )
