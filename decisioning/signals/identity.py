"""A customer arriving: profile and identity writes that make kept events resolvable.

A profile or an identity link can make kept, unresolved events resolvable: both writes
attach those events (and queue their processing) in the same transaction, so an event
is never dropped because its customer arrived after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from customers.choices import LinkMethod
from customers.models import Customer, IdentityLink
from customers.services import customer_upsert, identity_link_add
from decisioning.signals.ingest import events_resolve_pending


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
