"""Customer responses: what happened after an offer was made.

A response (impression, click, accept, decline, dismiss) is idempotent by the channel's
``response_id``. It updates the contact history the engine reads, so its effect holds on
every channel as soon as the call returns:

- ``accept`` of a sales offer records the product as held (an open ``Holding``): the
  engine never offers a held product's family again, and the pre-send gate cancels
  what is queued in that family. No suppression entry is written — the holding *is*
  the suppression, and it ends when the product is closed.
- ``decline`` of a sales offer starts the decline cooldown on every channel: the engine
  and the gate read declines from the contact row. When no contact row names the offer
  (the response gives no decision or message), a product suppression until the end of
  the cooldown is written instead, so the cooldown holds all the same. Queued messages
  for the product are cancelled.

Service actions are exempt from both (as in the engine): accepting payment-failure help
is not buying a product.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.selectors import active_contact_policy
from compliance.choices import SuppressionScope
from compliance.services import suppression_add
from core.actors import actor_name
from core.channels import HUMAN, OUTBOUND
from core.choices import Channel
from core.exceptions import Conflict, Unprocessable, ValidationFailed
from core.json import canonical_json
from customers.identity import resolve_customer
from customers.models import Customer
from customers.services import holding_open
from decisioning.choices import MessageStatus, Outcome, OverrideAction
from decisioning.models import Contact, Decision, Message, Response
from decisioning.outbound.cancel import messages_cancel
from ledger.choices import AuditKind
from ledger.services import audit
from offers.choices import OfferKind
from offers.models import Offer

# Which outcome wins when responses arrive out of order: a stronger one is never
# overwritten by a weaker one (a click stays engaged after a late impression).
OUTCOME_RANK = {
    Outcome.IMPRESSION: 0,
    Outcome.DISMISS: 1,
    Outcome.CLICK: 2,
    Outcome.DECLINE: 3,
    Outcome.ACCEPT: 3,
}


# A response reads what its decision released, never how it was explained: the
# explanation (tens of kB of JSON for a 50-offer decision) is left in the database.
_UNREAD_DECISION_FIELDS = ("explanation", "suppressed")


@dataclass(frozen=True, slots=True)
class RecordedResponse:
    response: Response
    duplicate: bool


def _body_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(body)).encode()).hexdigest()


def _as_uuid(value: Any, field: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ValidationFailed(
            f"{field} is not a UUID.", fields={field: ["must be a UUID"]}
        ) from None


def _existing(response_id: str, body_hash: str) -> RecordedResponse | None:
    # Nearly every response is new: a one-column probe first, the stored response with
    # what its answer shows only for a repeat (building the four-way join's SQL costs
    # the ORM more CPU than the rest of a new response's lookups).
    stored_hash = (
        Response.objects.filter(response_id=response_id).values_list("body_hash", flat=True)
    ).first()
    if stored_hash is None:
        return None
    if stored_hash != body_hash:
        raise Conflict(
            f"response_id {response_id!r} was already used with a different body.",
            fields={"response_id": ["already used with a different body"]},
        )
    existing = Response.objects.select_related("customer", "offer", "decision", "message").get(
        response_id=response_id
    )
    return RecordedResponse(existing, duplicate=True)


def response_record(
    *,
    actor: Any,
    response_id: str,
    offer_code: str,
    outcome: str,
    occurred_at: datetime,
    channel: str,
    decision_id: uuid.UUID | str | None = None,
    message_id: uuid.UUID | str | None = None,
    customer_ref: Mapping[str, Any] | None = None,
    agent_id: str = "",
    now: datetime | None = None,
) -> RecordedResponse:
    """Record one response; the same ``response_id`` with the same body returns the
    original (``duplicate``), with a different body it is a conflict.

    The customer is the decision's or message's; a response naming neither must name
    the customer (``customer_ref``, as events do).
    """
    errors: dict[str, list[str]] = {}
    if not response_id or len(response_id) > 128:
        errors["response_id"] = ["must be 1-128 characters"]
    if outcome not in Outcome.values:
        errors["outcome"] = [f"must be one of {', '.join(Outcome.values)}"]
    if channel not in Channel.values:
        errors["channel"] = [f"must be one of {', '.join(Channel.values)}"]
    if occurred_at is None or timezone.is_naive(occurred_at):
        errors["occurred_at"] = ["needs a date and time with a UTC offset"]
    if errors:
        raise ValidationFailed("The response is not valid.", fields=errors)
    decision_uuid = _as_uuid(decision_id, "decision_id")
    message_uuid = _as_uuid(message_id, "message_id")
    body_hash = _body_hash(
        {
            "response_id": response_id,
            "decision_id": str(decision_uuid) if decision_uuid else None,
            "message_id": str(message_uuid) if message_uuid else None,
            "customer": dict(customer_ref) if customer_ref else None,
            "offer_code": offer_code,
            "outcome": outcome,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(),
            "channel": channel,
            "agent_id": agent_id or "",
        }
    )
    duplicate = _existing(response_id, body_hash)
    if duplicate is not None:
        return duplicate

    offer = Offer.objects.select_related("product").filter(code=offer_code).first()
    if offer is None:
        raise Unprocessable("Unknown offer code.", fields={"offer_code": ["unknown offer"]})
    message = None
    if message_uuid is not None:
        message = (
            Message.objects.select_related("decision")
            .defer(*(f"decision__{name}" for name in _UNREAD_DECISION_FIELDS))
            .filter(pk=message_uuid)
            .first()
        )
        if message is None:
            raise Unprocessable("Unknown message.", fields={"message_id": ["unknown message"]})
        if message.offer_id != offer.pk:
            raise Unprocessable(
                "The message carried another offer.",
                fields={"offer_code": ["is not the message's offer"]},
            )
    decision = None
    if decision_uuid is not None:
        decision = Decision.objects.defer(*_UNREAD_DECISION_FIELDS).filter(pk=decision_uuid).first()
        if decision is None:
            raise Unprocessable("Unknown decision.", fields={"decision_id": ["unknown decision"]})
        if message is not None and message.decision_id != decision.pk:
            raise Unprocessable(
                "The message belongs to another decision.",
                fields={"message_id": ["is not from this decision"]},
            )
    elif message is not None:
        decision = message.decision
    if decision is not None and message is None and not _offered_in(decision, offer):
        raise Unprocessable(
            "The offer was not made in this decision.",
            fields={"offer_code": ["was not offered in this decision"]},
        )
    if outcome == Outcome.ACCEPT:
        _accept_provenance_check(
            decision=decision, message=message, offer=offer, channel=channel, agent_id=agent_id
        )
    customer = _customer_of(decision=decision, customer_ref=customer_ref)
    if customer.is_erased:
        raise Unprocessable("The customer has been erased; responses are no longer recorded.")

    now = now or timezone.now()
    try:
        with transaction.atomic():
            response = Response(
                response_id=response_id,
                customer=customer,
                decision=decision,
                message=message,
                offer=offer,
                outcome=outcome,
                occurred_at=occurred_at,
                channel=channel,
                agent_id=agent_id or "",
                body_hash=body_hash,
                source=actor_name(actor)[:150],
            )
            # The unique index on response_id decides a race, not a SELECT before it:
            # validate_unique would answer a concurrent copy 400 "already exists" instead
            # of the original result (below, on the IntegrityError). The one check
            # constraint is the outcome's choices, validated with the fields.
            response.full_clean(
                exclude=["customer", "decision", "message", "offer"],
                validate_unique=False,
                validate_constraints=False,
            )
            response.save(force_insert=True)
            effects = _apply(
                actor=actor,
                response=response,
                customer=customer,
                decision=decision,
                message=message,
                offer=offer,
                now=now,
            )
            audit(
                kind=AuditKind.RESPONSE,
                action=f"response_{outcome}",
                actor=actor,
                object_type="response",
                object_id=response.pk,
                object_repr=offer.code,
                customer_ref=customer.pseudonym,
                channel=channel,
                data={
                    "response_id": response_id,
                    "decision_id": str(decision.pk) if decision else None,
                    "message_id": str(message.pk) if message else None,
                    "offer_code": offer.code,
                    "product_code": offer.product.code,
                    "kind": offer.kind,
                    "outcome": outcome,
                    "occurred_at": occurred_at,
                    "agent_id": agent_id or "",
                    "effects": effects,
                },
                at=now,
            )
    except IntegrityError:
        # The same response_id recorded concurrently (its insert committed between our
        # look-up and ours): theirs is the original — the same body gets its result with
        # ``duplicate``, another body 409, exactly as a later repeat would.
        duplicate = _existing(response_id, body_hash)
        if duplicate is None:
            raise
        return duplicate
    return RecordedResponse(response, duplicate=False)


def _accept_provenance_check(
    *,
    decision: Decision | None,
    message: Message | None,
    offer: Offer,
    channel: str,
    agent_id: str,
) -> None:
    """An ``accept`` records a holding (its family is never offered again), so it must
    say where the offer reached the customer: a message of this offer handed to this
    channel's gateway, or a decision that released this offer on this channel (or in
    which a banker or agent on it made this offer instead). A banker or agent (a human
    channel, with ``agent_id``) who saw the customer accept attests it without one.
    Otherwise 422, naming what is missing."""
    if _attested_by_agent(channel, agent_id):
        return
    if message is not None:
        if message.channel != channel:
            raise Unprocessable(
                f"The message was sent on {message.channel}; an accept reported on {channel} "
                "needs a message or decision released to that channel, or a banker or agent "
                "(agent_id on a human channel).",
                fields={"message_id": [f"was not released on the {channel} channel"]},
            )
        if not _handed_out(message):
            raise Unprocessable(
                "The message was never handed to its channel, so it cannot have been accepted.",
                fields={"message_id": ["was never released to the channel"]},
            )
        return
    if decision is not None:
        if not _released_in(decision, offer, channel):
            raise Unprocessable(
                f"The decision did not release this offer on {channel}; an accept needs a "
                "message or decision released to the reporting channel, or a banker or agent "
                "(agent_id on a human channel).",
                fields={"decision_id": [f"did not release this offer on the {channel} channel"]},
            )
        return
    raise Unprocessable(
        "An accept must give the decision_id or message_id of an offer released to this "
        f"channel, or come from a banker or agent (agent_id on {' or '.join(sorted(HUMAN))}).",
        fields={
            "outcome": [
                "accept needs decision_id or message_id of an offer released on this "
                "channel, or agent_id on a human channel"
            ]
        },
    )


def _attested_by_agent(channel: str, agent_id: str) -> bool:
    return channel in HUMAN and bool((agent_id or "").strip())


def _handed_out(message: Message) -> bool:
    return message.lease_count > 0 or message.status in (
        MessageStatus.LEASED,
        MessageStatus.DELIVERED,
    )


def _released_in(decision: Decision, offer: Offer, channel: str) -> bool:
    """The decision released ``offer`` on ``channel``: inbound, when it answered; outbound,
    when the offer's message was handed to the gateway; or a banker or agent on the
    decision's channel replaced the recommendation with it."""
    if channel in OUTBOUND:
        return any(
            _handed_out(message)
            for message in decision.messages.filter(offer=offer, channel=channel).only(
                "id", "status", "lease_count"
            )
        )
    for item in decision.offers or ():
        if item.get("offer_code") == offer.code and (item.get("channel") or decision.channel) == (
            channel
        ):
            return True
    return (
        decision.channel == channel
        and decision.overrides.filter(action=OverrideAction.REPLACE, offer=offer).exists()
    )


def _offered_in(decision: Decision, offer: Offer) -> bool:
    codes = {item.get("offer_code") for item in decision.offers or ()}
    if offer.code in codes:
        return True
    return decision.overrides.filter(action=OverrideAction.REPLACE, offer=offer).exists()


def _customer_of(*, decision: Decision | None, customer_ref: Mapping[str, Any] | None) -> Customer:
    named = None
    if customer_ref:
        resolution = resolve_customer(dict(customer_ref))
        if not resolution.resolved:
            raise Unprocessable(
                "Unknown customer.", fields={"customer": [resolution.reason or "unknown customer"]}
            )
        named = resolution.customer
    if decision is not None:
        if named is not None and named.pk != decision.customer_id:
            raise Unprocessable(
                "The decision was made for another customer.",
                fields={"customer": ["is not the decision's customer"]},
            )
        return named or Customer.objects.get(pk=decision.customer_id)
    if named is None:
        raise Unprocessable(
            "Whose response is it? Give decision_id, message_id or customer.",
            fields={"customer": ["give decision_id, message_id or customer"]},
        )
    return named


def _apply(
    *,
    actor: Any,
    response: Response,
    customer: Customer,
    decision: Decision | None,
    message: Message | None,
    offer: Offer,
    now: datetime,
) -> list[str]:
    effects: list[str] = []
    contact = _contact_for(
        decision=decision, message=message, offer=offer, channel=response.channel
    )
    if contact is not None and _stronger(response, contact):
        contact.outcome = response.outcome
        contact.outcome_at = response.occurred_at
        contact.save(update_fields=["outcome", "outcome_at"])
        effects.append("contact_outcome_updated")
    if offer.kind != OfferKind.SALES:
        return effects
    product = offer.product
    if response.outcome == Outcome.ACCEPT:
        holding_open(
            actor=actor,
            customer=customer,
            product_code=product.code,
            opened_at=min(response.occurred_at, now).date(),
            source="response",
        )
        effects.append("holding_recorded")
        cancelled = messages_cancel(
            actor=actor,
            messages=Message.objects.filter(
                customer=customer,
                offer__kind=OfferKind.SALES,
                offer__product__family=product.family,
            ),
            reason="holds_product",
            now=now,
        )
        if cancelled:
            effects.append(f"queued_messages_cancelled:{cancelled}")
    elif response.outcome == Outcome.DECLINE:
        if contact is None or contact.outcome != Outcome.DECLINE:
            policy = active_contact_policy()
            until = min(response.occurred_at, now) + timedelta(days=policy.decline_cooldown_days)
            if until > now:
                suppression_add(
                    actor=actor,
                    customer=customer,
                    scope=SuppressionScope.PRODUCT,
                    value=product.code,
                    until=until,
                    reason="cooldown_after_decline",
                    source=f"response:{response.response_id}"[:100],
                )
                effects.append("product_suppressed_until_cooldown_ends")
        else:
            effects.append("cooldown_started")
        cancelled = messages_cancel(
            actor=actor,
            messages=Message.objects.filter(
                customer=customer, offer__kind=OfferKind.SALES, offer__product=product
            ),
            reason="cooldown_after_decline",
            now=now,
        )
        if cancelled:
            effects.append(f"queued_messages_cancelled:{cancelled}")
    return effects


def _contact_for(
    *, decision: Decision | None, message: Message | None, offer: Offer, channel: str
) -> Contact | None:
    if message is not None:
        return Contact.objects.select_for_update().filter(message=message).first()
    if decision is None:
        return None
    contacts = list(
        Contact.objects.select_for_update().filter(decision=decision, offer=offer).order_by("pk")
    )
    for contact in contacts:
        if contact.channel == channel:
            return contact
    return contacts[0] if contacts else None


def _stronger(response: Response, contact: Contact) -> bool:
    if not contact.outcome:
        return True
    new, old = OUTCOME_RANK[response.outcome], OUTCOME_RANK.get(contact.outcome, -1)
    if new != old:
        return new > old
    return contact.outcome_at is None or response.occurred_at >= contact.outcome_at
