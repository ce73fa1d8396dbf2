"""Customer writes the channel API orchestrates across layers, and the profile it reads.

A profile or an identity link can make kept, unresolved events resolvable: both writes
attach those events (and queue their processing) in the same transaction, so an event
is never dropped because its customer arrived after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from compliance.models import Consent, ErasureRequest, SuppressionEntry
from customers.choices import LinkMethod
from customers.models import Customer, Holding, IdentityLink
from customers.pseudonyms import pseudonym_for
from customers.services import customer_upsert, identity_link_add
from decisioning.services import events_resolve_pending


@dataclass(frozen=True, slots=True)
class StoredProfile:
    customer: Customer
    created: bool
    resolved_events: int


def customer_put(
    *,
    actor: Any,
    external_id: str,
    profile: Mapping[str, Any],
    holdings: Iterable[str] | None = None,
) -> StoredProfile:
    """Create or update a profile (and, when given, the full set of holdings), then
    attach the unresolved events that name this customer by ``external_id``."""
    with transaction.atomic():
        customer, created = customer_upsert(
            actor=actor, external_id=external_id, profile=profile, holdings=holdings
        )
        resolved = events_resolve_pending(customer=customer)
    return StoredProfile(customer, created, resolved)


@dataclass(frozen=True, slots=True)
class StoredIdentity:
    link: IdentityLink
    created: bool
    resolved_events: int


def identity_add(
    *,
    actor: Any,
    customer: Customer,
    type: str,
    value: str,
    method: str = LinkMethod.DETERMINISTIC,
    confidence: float = 1.0,
    source: str = "",
) -> StoredIdentity:
    """Link an identifier to the customer, then attach the unresolved events that named
    the customer by it (a probabilistic link below the threshold resolves nothing)."""
    with transaction.atomic():
        existed = IdentityLink.objects.filter(type=type, value=value, customer=customer).exists()
        link = identity_link_add(
            actor=actor,
            customer=customer,
            type=type,
            value=value,
            method=method,
            confidence=confidence,
            source=source,
        )
        resolved = events_resolve_pending(customer=customer, identifier=(type, value))
    return StoredIdentity(link, not existed, resolved)


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
