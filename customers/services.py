"""Customer data writes: profiles, holdings, identity links, and blanking PII on erasure.

Every write is audited straight into the ledger, which sits below this layer. Audit rows
name the customer only by pseudonym and list which fields changed, never their values;
a ``source`` a caller sent is kept only as ``ledger.redaction.free_text``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.exceptions import Conflict, Unprocessable, ValidationFailed
from customers.choices import EventStatus, IdentifierType, LinkMethod
from customers.identity import ERASED_PREFIX, identifier_hmac, redact_payload, redact_reference
from customers.models import Customer, ErasedIdentifier, Event, Holding, IdentityLink
from customers.pseudonyms import pseudonym_for
from ledger.choices import AuditKind
from ledger.redaction import free_text, origin_of
from ledger.services import audit

AUDIT_KIND = AuditKind.CUSTOMER

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "customer_since",
    "region",
    "branch_code",
    "time_zone",
    "risk_band",
    "income_band",
    "attributes",
)
PII_FIELDS = ("first_name", "last_name", "email", "phone", "birth_date", "attributes")
# Holding sources the code writes (kept as codes in the ledger).
HOLDING_SOURCES = frozenset({"profile", "response"})


def _validation_failed(exc: ValidationError, message: str) -> ValidationFailed:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return ValidationFailed(message, fields={k: list(v) for k, v in fields.items()})


def _clean_and_save(instance: Any, message: str, **kwargs: Any) -> None:
    try:
        instance.full_clean(**kwargs)
    except ValidationError as exc:
        raise _validation_failed(exc, message) from None
    instance.save()


def customer_upsert(
    *,
    actor: Any,
    external_id: str,
    profile: Mapping[str, Any],
    holdings: Iterable[str] | None = None,
) -> tuple[Customer, bool]:
    """Create or update a profile by the bank's id; returns (customer, created).

    ``holdings``, when given, is the full set of products the customer holds now: new
    ones are opened, missing ones closed. An erased customer is recognised by pseudonym
    and never re-created.
    """
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 64 or external_id.startswith("erased:"):
        raise ValidationFailed(
            "The customer id is not valid.",
            fields={"external_id": ["must be 1-64 characters and not start with 'erased:'"]},
        )
    unknown = sorted(set(profile) - set(PROFILE_FIELDS))
    if unknown:
        raise ValidationFailed(
            "Unknown profile fields.", fields={name: ["is not a profile field"] for name in unknown}
        )
    if "attributes" in profile and not isinstance(profile["attributes"], dict):
        raise ValidationFailed(
            "The profile is not valid.", fields={"attributes": ["must be an object"]}
        )
    pseudonym = pseudonym_for(external_id)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().filter(pseudonym=pseudonym).first()
        if customer is not None and customer.is_erased:
            raise Conflict(
                "This customer was erased at their request and cannot be re-created.",
                fields={"external_id": ["erased"]},
            )
        created = customer is None
        customer = customer or Customer(external_id=external_id, pseudonym=pseudonym)
        changed = []
        for name, value in profile.items():
            if value is None and name not in ("birth_date", "customer_since"):
                value = {} if name == "attributes" else ""
            if getattr(customer, name) != value:
                setattr(customer, name, value)
                changed.append(name)
        try:
            with transaction.atomic():
                _clean_and_save(customer, "The customer profile is not valid.")
        except IntegrityError:
            raise Conflict(
                "The customer was created at the same time by another request."
            ) from None
        opened, closed = (
            ([], [])
            if holdings is None
            else _sync_holdings(actor=actor, customer=customer, product_codes=holdings)
        )
        if created or changed or opened or closed:
            audit(
                kind=AUDIT_KIND,
                action="customer_created" if created else "customer_updated",
                actor=actor,
                object_type="customer",
                object_id=customer.pk,
                customer_ref=customer.pseudonym,
                data={
                    "fields_changed": sorted(changed),
                    "holdings_opened": opened,
                    "holdings_closed": closed,
                },
            )
    return customer, created


def _sync_holdings(
    *, actor: Any, customer: Customer, product_codes: Iterable[str]
) -> tuple[list[str], list[str]]:
    wanted = {code.strip() for code in product_codes if code and code.strip()}
    if any(len(code) > 32 for code in wanted):
        raise ValidationFailed(
            "A product code is too long.", fields={"holdings": ["at most 32 characters"]}
        )
    today = timezone.localdate()
    open_now = {h.product_code: h for h in customer.holdings.filter(closed_at__isnull=True)}
    opened = sorted(wanted - open_now.keys())
    closed = sorted(open_now.keys() - wanted)
    Holding.objects.bulk_create(
        [
            Holding(customer=customer, product_code=code, opened_at=today, source="profile")
            for code in opened
        ]
    )
    Holding.objects.filter(pk__in=[open_now[code].pk for code in closed]).update(closed_at=today)
    return opened, closed


def holding_open(
    *,
    actor: Any,
    customer: Customer,
    product_code: str,
    opened_at: datetime.date | None = None,
    source: str = "",
) -> Holding:
    """Record that the customer holds a product (idempotent: returns the open holding)."""
    with transaction.atomic():
        existing = customer.holdings.filter(
            product_code=product_code, closed_at__isnull=True
        ).first()
        if existing is not None:
            return existing
        holding = Holding(
            customer=customer,
            product_code=product_code,
            opened_at=opened_at or timezone.localdate(),
            source=source[:32],
        )
        _clean_and_save(holding, "The holding is not valid.")
        audit(
            kind=AUDIT_KIND,
            action="holding_opened",
            actor=actor,
            object_type="holding",
            object_id=holding.pk,
            customer_ref=customer.pseudonym,
            data={
                "product_code": product_code,
                "source": free_text(source, kind=origin_of(actor), codes=HOLDING_SOURCES),
            },
        )
    return holding


def holding_close(
    *, actor: Any, customer: Customer, product_code: str, closed_at: datetime.date | None = None
) -> bool:
    """Close the open holding of a product; False when there was none."""
    with transaction.atomic():
        holding = (
            customer.holdings.select_for_update()
            .filter(product_code=product_code, closed_at__isnull=True)
            .first()
        )
        if holding is None:
            return False
        holding.closed_at = closed_at or timezone.localdate()
        _clean_and_save(holding, "The holding is not valid.")
        audit(
            kind=AUDIT_KIND,
            action="holding_closed",
            actor=actor,
            object_type="holding",
            object_id=holding.pk,
            customer_ref=customer.pseudonym,
            data={"product_code": product_code},
        )
    return True


def identity_link_add(
    *,
    actor: Any,
    customer: Customer,
    type: str,
    value: str,
    method: str = LinkMethod.DETERMINISTIC,
    confidence: float = 1.0,
    source: str = "",
) -> IdentityLink:
    """Link an identifier (card token, device id, ...) to the customer.

    Re-linking the same identifier to the same customer updates method and confidence;
    an identifier already linked to another customer is a conflict.
    """
    if customer.is_erased:
        raise Unprocessable("The customer has been erased; no identity can be linked.")
    if type not in IdentifierType.values:
        raise ValidationFailed(
            "The identity is not valid.",
            fields={"type": [f"must be one of {', '.join(IdentifierType.values)}"]},
        )
    if method == LinkMethod.DETERMINISTIC:
        confidence = 1.0
    with transaction.atomic():
        link = IdentityLink.objects.select_for_update().filter(type=type, value=value).first()
        if link is not None and link.customer_id != customer.pk:
            raise Conflict(
                "This identifier is already linked to another customer.",
                fields={"value": ["already linked"]},
            )
        created = link is None
        link = link or IdentityLink(customer=customer, type=type, value=value)
        link.method = method
        link.confidence = confidence
        link.source = source
        try:
            with transaction.atomic():
                _clean_and_save(link, "The identity is not valid.")
        except IntegrityError:
            raise Conflict(
                "This identifier was linked at the same time by another request."
            ) from None
        audit(
            kind=AUDIT_KIND,
            action="identity_linked" if created else "identity_updated",
            actor=actor,
            object_type="identity_link",
            object_id=link.pk,
            customer_ref=customer.pseudonym,
            # The identifier's value is personal data: the ledger keeps its type only.
            data={
                "type": type,
                "method": method,
                "confidence": confidence,
                "source": free_text(source, kind=origin_of(actor)),
            },
        )
    return link


def customer_erase_pii(*, actor: Any, customer: Customer) -> dict[str, int]:
    """Blank the customer's personal data, remove their identity links, and forget how
    channels named them on stored events. The row stays (with its pseudonym) so contact
    history, decisions and the ledger keep their references; the bank's id is replaced
    by ``erased:<pseudonym>``. Returns counts for the erasure summary.

    Every identifier erasure removes (each identity link's value, the profile's e-mail
    and phone) leaves a keyed-hash tombstone (``ErasedIdentifier``), so a channel that
    names the customer by it again is recognised (``customers.identity``) without the
    identifier being kept. Stored events stop carrying the identifiers: the customer's
    own events lose how they were named and any identifier in their payload, those not
    processed yet are never decided for (status ``erased``), and kept unresolved events
    that named the customer by a former identifier or bank id get the same treatment."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        former_external_id = customer.external_id
        identifiers = _former_identifiers(customer)
        tombstoned = identifiers_tombstone(identifiers=identifiers)
        customer.external_id = f"{ERASED_PREFIX}{customer.pseudonym}"
        customer.first_name = ""
        customer.last_name = ""
        customer.email = ""
        customer.phone = ""
        customer.birth_date = None
        customer.attributes = {}
        customer.erased_at = customer.erased_at or timezone.now()
        _clean_and_save(customer, "The customer cannot be erased.")
        identities, _ = IdentityLink.objects.filter(customer=customer).delete()
        former_values = [former_external_id, *(value for _, value in identifiers)]
        events = _events_forget_identifiers(customer=customer, values=former_values)
        pending = _pending_events_erase(
            external_id=former_external_id, identifiers=identifiers, values=former_values
        )
        summary = {
            "identities_removed": identities,
            "events_unlinked": events,
            "identifiers_tombstoned": tombstoned,
            "pending_events_erased": pending,
        }
        audit(
            kind=AUDIT_KIND,
            action="customer_pii_erased",
            actor=actor,
            object_type="customer",
            object_id=customer.pk,
            customer_ref=customer.pseudonym,
            data={"fields_blanked": ["external_id", *PII_FIELDS], **summary},
        )
    return summary


def _former_identifiers(customer: Customer) -> list[tuple[str, str]]:
    """What named the customer: each identity link, and the profile's e-mail and phone."""
    pairs = set(customer.identities.values_list("type", "value"))
    if customer.email:
        pairs.add((IdentifierType.EMAIL, customer.email))
    if customer.phone:
        pairs.add((IdentifierType.PHONE, customer.phone))
    return sorted(pairs)


def identifiers_tombstone(*, identifiers: Iterable[tuple[str, str]]) -> int:
    """Write the keyed-hash tombstone of each identifier (idempotent); returns how many
    distinct identifiers are now tombstoned by this call."""
    hashes = {(type, identifier_hmac(type, value)) for type, value in identifiers}
    ErasedIdentifier.objects.bulk_create(
        [ErasedIdentifier(identifier_type=type, value_hmac=digest) for type, digest in hashes],
        ignore_conflicts=True,
    )
    return len(hashes)


def _events_forget_identifiers(*, customer: Customer, values: list[str]) -> int:
    """The customer's stored events: how the channel named them is dropped, identifiers in
    payloads redacted, and what is not processed yet is never decided for."""
    events = list(Event.objects.filter(customer=customer).only("id", "payload", "status"))
    for event in events:
        event.customer_ref = {"erased": True}
        event.payload = redact_payload(event.payload, values)
        if event.status != EventStatus.PROCESSED:
            event.status = EventStatus.ERASED
    Event.objects.bulk_update(events, ["customer_ref", "payload", "status"], batch_size=500)
    return len(events)


def _pending_events_erase(
    *, external_id: str, identifiers: list[tuple[str, str]], values: list[str]
) -> int:
    """Kept unresolved events that named the customer by their bank id or an identifier
    erasure removed: stored on without it, and never processed."""
    naming = Q(customer_ref__external_id=external_id)
    for type, value in identifiers:
        naming |= Q(customer_ref__identifier__type=type, customer_ref__identifier__value=value)
    events = list(
        Event.objects.select_for_update()
        .filter(naming, status=EventStatus.UNRESOLVED)
        .only("id", "customer_ref", "payload", "status")
    )
    for event in events:
        event.customer_ref = redact_reference(event.customer_ref)
        event.payload = redact_payload(event.payload, values)
        event.status = EventStatus.ERASED
    Event.objects.bulk_update(events, ["customer_ref", "payload", "status"], batch_size=500)
    return len(events)
