"""Customer data reads. (Resolving how a channel names a customer: ``customers.identity``.)"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from customers.models import Customer, Holding, IdentityLink
from customers.pseudonyms import pseudonym_for


def customer_get(*, external_id: str) -> Customer | None:
    """The customer with this bank id (an erased customer no longer has it)."""
    return Customer.objects.filter(external_id=external_id).first()


def customer_get_by_pseudonym(*, pseudonym: str) -> Customer | None:
    return Customer.objects.filter(pseudonym=pseudonym).first()


def customer_was_erased(*, external_id: str) -> bool:
    """True when this bank id belonged to a customer who has been erased."""
    return Customer.objects.filter(
        pseudonym=pseudonym_for(external_id), erased_at__isnull=False
    ).exists()


def customer_profile(*, external_id: str) -> Customer | None:
    """A profile with its open holdings and identity links, in three queries."""
    return (
        Customer.objects.filter(external_id=external_id)
        .prefetch_related(
            Prefetch(
                "holdings",
                queryset=Holding.objects.filter(closed_at__isnull=True).order_by("product_code"),
                to_attr="open_holdings",
            ),
            Prefetch("identities", queryset=IdentityLink.objects.order_by("type", "value")),
        )
        .first()
    )


def open_holdings(*, customer: Customer) -> QuerySet[Holding]:
    return customer.holdings.filter(closed_at__isnull=True).order_by("product_code")
