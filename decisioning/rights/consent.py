"""A customer's rights that reach the message queue: consent changes and do-not-contact.

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
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from compliance.choices import ConsentChannel, ConsentStatus
from compliance.models import Consent, DoNotContact
from compliance.services import (
    consent_set,
    do_not_contact_set,
)
from core.channels import OUTBOUND
from customers.models import Customer
from decisioning.outbound.cancel import messages_cancel_for_customer

REASON_CONSENT_REVOKED = "consent_revoked"


REASON_DO_NOT_CONTACT = "do_not_contact"


@dataclass(frozen=True, slots=True)
class ConsentChange:
    consent: Consent
    cancelled_messages: int


@dataclass(frozen=True, slots=True)
class DoNotContactChange:
    entry: DoNotContact
    cancelled_messages: int


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
