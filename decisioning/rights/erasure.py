"""Erasure: personal data blanked, queued messages cancelled, decisions redacted, one transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from compliance.choices import SuppressionScope
from compliance.models import ErasureRequest
from compliance.services import (
    consents_revoke_all,
    erasure_record,
    suppression_add,
)
from core.channels import OUTBOUND
from customers.models import Customer
from customers.services import customer_erase_pii
from decisioning.outbound.cancel import messages_cancel_for_customer
from decisioning.rights.redaction import decisions_redact_for_customer

REASON_ERASED = "erased"


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
