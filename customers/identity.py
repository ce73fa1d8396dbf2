"""Resolving how a channel names a customer to the customer.

A channel names a customer by ``{"external_id": ...}`` or by
``{"identifier": {"type": ..., "value": ...}}``. Deterministic links are preferred; a
probabilistic one counts only at or above ``IDENTITY_MIN_CONFIDENCE``. The resolution
says which link and confidence it relied on, so the decision can record it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from customers.choices import IdentifierType, LinkMethod
from customers.models import Customer, IdentityLink


@dataclass(frozen=True, slots=True)
class Resolution:
    customer: Customer | None
    link: IdentityLink | None = None
    confidence: float | None = None
    reason: str = ""

    @property
    def resolved(self) -> bool:
        return self.customer is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "resolved": self.resolved,
            "link_id": self.link.pk if self.link else None,
            "method": self.link.method if self.link else ("external_id" if self.customer else None),
            "confidence": self.confidence,
            "reason": self.reason,
        }


def customer_reference_errors(ref: Any) -> dict[str, list[str]]:
    """Validate the shape of a customer reference; empty when it is well formed."""
    if not isinstance(ref, dict):
        return {"customer": ["must be an object with external_id or identifier"]}
    external_id = ref.get("external_id")
    identifier = ref.get("identifier")
    if (external_id is None) == (identifier is None):
        return {"customer": ["give exactly one of external_id or identifier"]}
    if external_id is not None:
        if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 64:
            return {"customer.external_id": ["must be a non-empty string of at most 64 characters"]}
        return {}
    if not isinstance(identifier, dict):
        return {"customer.identifier": ["must be an object with type and value"]}
    errors: dict[str, list[str]] = {}
    if identifier.get("type") not in IdentifierType.values:
        errors["customer.identifier.type"] = [f"must be one of {', '.join(IdentifierType.values)}"]
    value = identifier.get("value")
    if not isinstance(value, str) or not value or len(value) > 256:
        errors["customer.identifier.value"] = [
            "must be a non-empty string of at most 256 characters"
        ]
    return errors


def resolve_customer(ref: dict[str, Any]) -> Resolution:
    """Resolve a well-formed reference (see ``customer_reference_errors``)."""
    if "external_id" in ref and ref["external_id"] is not None:
        customer = Customer.objects.filter(external_id=ref["external_id"]).first()
        if customer is None:
            return Resolution(None, reason="unknown external_id")
        return Resolution(customer, confidence=1.0)
    identifier = ref["identifier"]
    link = (
        IdentityLink.objects.select_related("customer")
        .filter(type=identifier["type"], value=identifier["value"])
        .first()
    )
    if link is None:
        return Resolution(None, reason="no identity link for this identifier")
    if (
        link.method == LinkMethod.PROBABILISTIC
        and link.confidence < settings.IDENTITY_MIN_CONFIDENCE
    ):
        return Resolution(
            None,
            link=link,
            confidence=link.confidence,
            reason=(
                f"probabilistic link confidence {link.confidence:.2f} is below "
                f"{settings.IDENTITY_MIN_CONFIDENCE:.2f}"
            ),
        )
    return Resolution(link.customer, link=link, confidence=link.confidence)
