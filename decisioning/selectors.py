"""Decisioning reads: every query the console and the channel API make of this layer."""

from __future__ import annotations

from django.db.models import Prefetch, Q
from django.utils import timezone

from compliance.models import Consent, ErasureRequest, SuppressionEntry
from customers.models import Customer, Holding
from customers.pseudonyms import pseudonym_for

# --- reads -------------------------------------------------------------------------------


def customer_overview(*, external_id: str) -> Customer | None:
    """A profile with open holdings, consents, do-not-contact and the suppressions in
    force now, in four queries."""
    now = timezone.now()
    return (
        Customer.objects.filter(external_id=external_id)
        .prefetch_related(
            Prefetch(
                "holdings",
                queryset=Holding.objects.filter(closed_at__isnull=True).order_by("product_code"),
                to_attr="open_holdings",
            ),
            Prefetch(
                "consents", queryset=Consent.objects.order_by("channel"), to_attr="consent_list"
            ),
            Prefetch(
                "suppressions",
                queryset=SuppressionEntry.objects.filter(
                    Q(until__isnull=True) | Q(until__gt=now)
                ).order_by("created_at", "pk"),
                to_attr="open_suppressions",
            ),
        )
        .select_related("do_not_contact")
        .first()
    )


def earlier_erasure(*, external_id: str) -> ErasureRequest | None:
    """The erasure of the customer who had this bank id, if they were erased."""
    return (
        ErasureRequest.objects.filter(customer_ref=pseudonym_for(external_id))
        .order_by("-requested_at")
        .first()
    )
