"""Resolving how a channel names a customer to the customer.

A channel names a customer by ``{"external_id": ...}`` or by
``{"identifier": {"type": ..., "value": ...}}``. Deterministic links are preferred; a
probabilistic one counts only at or above ``IDENTITY_MIN_CONFIDENCE``. The resolution
says which link and confidence it relied on, so the decision can record it.

An erased customer is addressable by no reference: not by the ``erased:<pseudonym>``
id erasure gave them, not by their former bank id (recognised by its pseudonym), and not
by a former identifier (recognised by its keyed-hash tombstone, ``ErasedIdentifier``).
Such a reference resolves to nobody with ``erased`` set, and ``redact_reference`` /
``redact_payload`` give what may be kept of a request that used it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from customers.choices import IdentifierType, LinkMethod
from customers.models import Customer, ErasedIdentifier, IdentityLink
from customers.pseudonyms import pseudonym_for

ERASED_PREFIX = "erased:"
# What replaces an erased customer's identifier wherever a channel sent it again.
REDACTED = "[redacted]"
ERASED_REASON = "the customer was erased at their request"


@dataclass(frozen=True, slots=True)
class Resolution:
    customer: Customer | None
    link: IdentityLink | None = None
    confidence: float | None = None
    reason: str = ""
    # The reference names an erased customer: resolved to nobody, on purpose.
    erased: bool = False
    # The erased customer's row (pseudonymous), when the reference says which one; a
    # tombstone match does not (it keeps only a keyed hash of the identifier).
    erased_customer: Customer | None = None

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


def _erased(customer: Customer | None = None) -> Resolution:
    return Resolution(None, reason=ERASED_REASON, erased=True, erased_customer=customer)


def normalised_identifier(type: str, value: str) -> str:
    """The form a tombstone hashes: e-mail case-folded, phone reduced to ``+`` and digits,
    anything else stripped of surrounding space — so the obvious variants still match."""
    value = value.strip()
    if type == IdentifierType.EMAIL:
        return value.casefold()
    if type == IdentifierType.PHONE:
        return re.sub(r"[^\d+]", "", value)
    return value


def identifier_hmac(type: str, value: str) -> str:
    """The keyed hash an ``ErasedIdentifier`` keeps of an identifier (never the value)."""
    message = f"erased-identifier\x00{type}\x00{normalised_identifier(type, value)}"
    return hmac.new(settings.PSEUDONYM_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()


def identifier_was_erased(type: str, value: str) -> bool:
    return ErasedIdentifier.objects.filter(
        identifier_type=type, value_hmac=identifier_hmac(type, value)
    ).exists()


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


def external_id_resolution(external_id: str, customer: Customer | None) -> Resolution:
    """What an ``{"external_id": ...}`` reference resolves to, given the customer whose
    external id it is (``None``: no customer has it) — for a caller that read that row
    already (the inbound decision reads it with the context, in one query)."""
    if customer is not None:
        return _erased(customer) if customer.is_erased else Resolution(customer, confidence=1.0)
    if not external_id.startswith(ERASED_PREFIX):
        # The bank's former id of an erased customer: recognised by its pseudonym.
        erased = Customer.objects.filter(
            pseudonym=pseudonym_for(external_id), erased_at__isnull=False
        ).first()
        if erased is not None:
            return _erased(erased)
    return Resolution(None, reason="unknown external_id")


def resolve_customer(ref: dict[str, Any]) -> Resolution:
    """Resolve a well-formed reference (see ``customer_reference_errors``)."""
    if "external_id" in ref and ref["external_id"] is not None:
        external_id = ref["external_id"]
        return external_id_resolution(
            external_id, Customer.objects.filter(external_id=external_id).first()
        )
    identifier = ref["identifier"]
    link = (
        IdentityLink.objects.select_related("customer")
        .filter(type=identifier["type"], value=identifier["value"])
        .first()
    )
    if link is not None and link.customer.is_erased:
        return _erased(link.customer)  # erasure removes links; never trust one that stayed
    if link is None:
        if identifier_was_erased(identifier["type"], identifier["value"]):
            return _erased()
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


# --- what may be kept of a request that named an erased customer -------------------------


def redact_reference(ref: dict[str, Any]) -> dict[str, Any]:
    """The reference with the identifying value replaced by ``REDACTED``: the identifier's
    type stays (a classification), the value goes. The ``erased:<pseudonym>`` id is a
    pseudonym, not personal data, and stays."""
    if isinstance(ref.get("identifier"), dict):
        return {"identifier": {"type": ref["identifier"].get("type"), "value": REDACTED}}
    external_id = ref.get("external_id")
    if isinstance(external_id, str) and external_id.startswith(ERASED_PREFIX):
        return {"external_id": external_id}
    return {"external_id": REDACTED}


def reference_values(ref: dict[str, Any]) -> list[str]:
    """The identifying values a reference carries (what ``redact_payload`` removes)."""
    identifier = ref.get("identifier")
    value = identifier.get("value") if isinstance(identifier, dict) else ref.get("external_id")
    if not isinstance(value, str) or not value or value.startswith(ERASED_PREFIX):
        return []
    return [value]


def redact_payload(payload: Any, values: Iterable[str]) -> Any:
    """``payload`` with every occurrence of ``values`` (case-insensitive, in keys and in
    string values, at any depth) replaced by ``REDACTED``."""
    needles = sorted({v for v in values if isinstance(v, str) and v.strip()}, key=len)[::-1]
    if not needles:
        return payload
    pattern = re.compile("|".join(re.escape(v) for v in needles), re.IGNORECASE)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(REDACTED, item)
        if isinstance(item, dict):
            return {walk(key): walk(value) for key, value in item.items()}
        if isinstance(item, list):
            return [walk(value) for value in item]
        return item

    return walk(payload)
