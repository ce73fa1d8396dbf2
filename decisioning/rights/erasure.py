"""Erasure: personal data blanked, queued messages cancelled, decisions redacted, one transaction.

Free text a channel or an operator sent about the customer lives only on operational rows
(the ledger keeps its class and keyed hash, ``ledger.redaction``): consent sources,
do-not-contact and suppression reasons (blanked by compliance), and here the messages'
``provider_ref`` / ``error`` and the overrides' ``reason``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from compliance.choices import SuppressionScope
from compliance.models import ErasureRequest
from compliance.services import (
    ERASED_TEXT,
    consents_revoke_all,
    customer_free_text_erase,
    erasure_record,
    suppression_add,
)
from core.channels import OUTBOUND
from customers.models import Customer
from customers.services import customer_erase_pii
from decisioning.models import Message, Override
from decisioning.outbound.cancel import messages_cancel_for_customer
from decisioning.rights.redaction import decisions_redact_for_customer

REASON_ERASED = "erased"


def decisioning_free_text_erase(*, customer: Customer) -> dict[str, int]:
    """Blank what channels and agents wrote about the customer on decisioning rows: a
    message's provider reference and delivery error, an override's reason."""
    messages = (
        Message.objects.filter(customer=customer)
        .exclude(provider_ref="", error="")
        .update(provider_ref="", error="")
    )
    overrides = (
        Override.objects.filter(decision__customer=customer)
        .exclude(reason=ERASED_TEXT)
        .update(reason=ERASED_TEXT)
    )
    return {"message_texts_blanked": messages, "override_reasons_blanked": overrides}


def customer_erase(*, actor: Any, customer: Customer) -> ErasureRequest:
    """The right to be forgotten, in one transaction: every pending message cancelled,
    consents revoked, a permanent suppression of everything (reason ``erased``), PII
    blanked and identities removed, the free text channels and operators wrote about the
    customer blanked (consent sources, do-not-contact and suppression reasons, message
    provider refs and errors, override reasons), and a completed ErasureRequest. The
    audit ledger keeps only the pseudonymous reference (and, of free text, classes and
    keyed hashes), so it is never touched. Erasing an erased customer returns the
    earlier request."""
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
        texts = {
            **customer_free_text_erase(customer=customer),
            **decisioning_free_text_erase(customer=customer),
        }
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
                **texts,
            },
        )
