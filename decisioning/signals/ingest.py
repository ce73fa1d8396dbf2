"""Signals in: events accepted idempotently by ``event_id``, and kept events resolved when
their customer becomes known.

An accepted event is written with its outbox row (``decisioning/outbox.py``) and queued
after commit: a broker that is down never fails the request, and the sweeper queues the
event later. Two identical requests at once both answer with the stored event
(``duplicate`` for the one that lost the race): the unique ``event_id`` decides, never a
validation error.

An event that names an erased customer (by the ``erased:`` id, their former bank id or a
former identifier) is kept, so the channel's retry is still a duplicate, but with status
``erased``: the identifier is replaced by a redaction marker in the customer reference
and in the payload, and it is never processed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from core.actors import actor_name
from core.exceptions import Conflict, ValidationFailed
from core.json import canonical_json
from customers.choices import EventStatus
from customers.identity import (
    customer_reference_errors,
    redact_payload,
    redact_reference,
    reference_values,
    resolve_customer,
)
from customers.models import Customer, Event
from decisioning.models import EventOutbox
from decisioning.outbox import enqueue_on_commit

# --- signals: events in, real-time campaigns out ---------------------------------------


def _body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IngestedEvent:
    event: Event
    duplicate: bool


def event_ingest(
    *,
    actor: Any,
    event_id: str,
    type: str,
    occurred_at: datetime,
    customer: dict[str, Any],
    channel: str = "",
    payload: dict[str, Any] | None = None,
) -> IngestedEvent:
    """Store a signal once; queue its processing when its customer is known.

    The same ``event_id`` with the same body is a duplicate (nothing changes); with a
    different body it is a conflict. An event whose customer cannot be resolved is kept
    as unresolved and processed when an identity link or profile appears; one that names
    an erased customer is kept as ``erased``, without the identifier, and never processed.
    """
    errors = customer_reference_errors(customer)
    if errors:
        raise ValidationFailed("The customer reference is not valid.", fields=errors)
    payload = payload or {}
    body_hash = _body_hash(
        {
            "event_id": event_id,
            "type": type,
            "occurred_at": occurred_at.isoformat(),
            "customer": customer,
            "channel": channel,
            "payload": payload,
        }
    )
    existing = _stored_event(event_id)
    if existing is not None:
        return _duplicate_or_conflict(existing, body_hash)
    resolution = resolve_customer(customer)
    if resolution.erased:
        status = EventStatus.ERASED
        payload = redact_payload(payload, reference_values(customer))
        customer = redact_reference(customer)
    else:
        status = EventStatus.ACCEPTED if resolution.resolved else EventStatus.UNRESOLVED
    event = Event(
        event_id=event_id,
        type=type,
        occurred_at=occurred_at,
        customer=resolution.customer or resolution.erased_customer,
        customer_ref=customer,
        channel=channel,
        payload=payload,
        status=status,
        identity_link=resolution.link if resolution.resolved else None,
        identity_confidence=resolution.confidence if resolution.resolved else None,
        body_hash=body_hash,
        source=actor_name(actor),
    )
    try:
        with transaction.atomic():
            # Uniqueness is the database's to decide (below): checking it here would turn
            # the loser of two concurrent identical requests into a validation error. The
            # check constraints (a known status; processed only with a customer) hold by
            # construction here and the database enforces them: validating them in Python
            # would cost a query each on every signal.
            event.full_clean(
                exclude=["customer", "identity_link"],
                validate_unique=False,
                validate_constraints=False,
            )
            event.save(force_insert=True)
            if event.status == EventStatus.ACCEPTED:
                _queue_processing(event)
    except IntegrityError:
        # Another request stored the same event_id between our look and our insert.
        existing = _stored_event(event_id)
        if existing is None:
            raise
        return _duplicate_or_conflict(existing, body_hash)
    return IngestedEvent(event, duplicate=False)


def _stored_event(event_id: str) -> Event | None:
    # Nearly every signal is new: a bare existence probe, the event read only for a repeat.
    if not Event.objects.filter(event_id=event_id).exists():
        return None
    return Event.objects.get(event_id=event_id)


def _duplicate_or_conflict(existing: Event, body_hash: str) -> IngestedEvent:
    if existing.body_hash != body_hash:
        raise Conflict(
            f"event_id {existing.event_id!r} was already used with a different body.",
            fields={"event_id": ["already used with a different body"]},
        )
    return IngestedEvent(existing, duplicate=True)


def _queue_processing(event: Event) -> None:
    """The outbox row in the caller's transaction, the task after its commit."""
    from decisioning.tasks import process_event

    EventOutbox.objects.bulk_create([EventOutbox(event_id=event.pk)], ignore_conflicts=True)
    enqueue_on_commit(process_event, event.pk)


def events_resolve_pending(*, customer: Customer, identifier: tuple[str, str] | None = None) -> int:
    """Attach unresolved events that name this customer (by external id or identifier)."""
    pending = Event.objects.filter(status=EventStatus.UNRESOLVED)
    if identifier is None:
        pending = pending.filter(customer_ref__external_id=customer.external_id)
    else:
        pending = pending.filter(
            customer_ref__identifier__type=identifier[0],
            customer_ref__identifier__value=identifier[1],
        )
    count = 0
    for event in pending.select_for_update():
        resolution = resolve_customer(event.customer_ref)
        if resolution.customer != customer:
            continue
        event.customer = customer
        event.identity_link = resolution.link
        event.identity_confidence = resolution.confidence
        event.status = EventStatus.ACCEPTED
        event.save(update_fields=["customer", "identity_link", "identity_confidence", "status"])
        _queue_processing(event)
        count += 1
    return count
