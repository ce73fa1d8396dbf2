"""Inbound decisions: a customer is present on a channel and asks for the next best offers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.actors import actor_name
from core.channels import INBOUND
from core.exceptions import NotFound, Unprocessable, ValidationFailed
from core.metrics import timed_decision
from customers.identity import Resolution, external_id_resolution, resolve_customer
from customers.models import Customer
from decisioning import engine
from decisioning.choices import DecisionMode
from decisioning.decisions.context import (
    history_scope,
    load_context_and_version,
    load_customer_context_and_version,
)
from decisioning.decisions.snapshots import LoadedSnapshot, snapshots
from decisioning.decisions.store import decision_store
from decisioning.models import Contact, Decision

# --- inbound: a customer is present ---------------------------------------------------


def context_for(
    loaded: LoadedSnapshot,
    customer: Customer,
    now: datetime,
    *,
    exclude_decision: Decision | None = None,
) -> engine.CustomerContext:
    return _context_and_version(loaded, customer, now, exclude_decision=exclude_decision)[0]


def _context_and_version(
    loaded: LoadedSnapshot,
    customer: Customer,
    now: datetime,
    *,
    exclude_decision: Decision | None = None,
) -> tuple[engine.CustomerContext, int]:
    return load_context_and_version(
        customer,
        now=now,
        exclude_decision_id=exclude_decision.pk if exclude_decision else None,
        **history_scope(loaded.engine),
    )


def snapshot_and_context(
    customer: Customer, now: datetime
) -> tuple[LoadedSnapshot, engine.CustomerContext]:
    """The current snapshot and the customer's context in one read on the hot path.

    The context query also returns the catalog version; only when it moved (or the
    snapshot's window closed) is the snapshot rebuilt and the context read again under
    the new policy.
    """
    loaded = snapshots.peek(now)
    context, version = _context_and_version(loaded, customer, now)
    if not snapshots.is_current(loaded, version, now):
        loaded = snapshots.get(now)
        context = context_for(loaded, customer, now)
    return loaded, context


def volume_today(loaded: LoadedSnapshot, campaign_ids, now: datetime) -> dict[int, int]:
    limited = [
        cid
        for cid in campaign_ids
        if (c := loaded.engine.campaigns.get(cid)) is not None and c.daily_volume_limit
    ]
    if not limited:
        return {}
    start = timezone.localtime(now, engine_zone()).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return {
        cid: Contact.objects.filter(campaign_id=cid, released_at__gte=start, cancelled=False)
        .values("customer_id")
        .distinct()
        .count()
        for cid in limited
    }


def engine_zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo(settings.BANK_TIME_ZONE)


@timed_decision("inbound")
def decide_inbound(
    *,
    actor: Any,
    customer: Customer,
    channel: str,
    event_type: str | None = None,
    page: str | None = None,
    max_offers: int | None = None,
    identity: Resolution | None = None,
    now: datetime | None = None,
) -> Decision:
    """Next best offers for a customer present on an inbound channel, released now.

    ``event_type`` and ``page`` are the request's context: offers whose trigger weights
    name the event type, or a page pattern the page matches (``engine.pages``), get that
    context weight, recorded in their score factors.
    """
    return _decide(
        actor=actor,
        customer=customer,
        channel=channel,
        event_type=event_type,
        page=page,
        max_offers=max_offers,
        identity=identity,
        now=now or timezone.now(),
    )


@timed_decision("inbound")
def decide_inbound_for(
    *,
    actor: Any,
    reference: dict[str, Any],
    channel: str,
    event_type: str | None = None,
    page: str | None = None,
    max_offers: int | None = None,
    now: datetime | None = None,
) -> Decision:
    """``decide_inbound`` for the customer a channel names (``customers.identity``): 404
    for nobody, 422 for an erased customer (by any reference), nothing decided or stored.

    A reference by ``external_id`` (the common one) is resolved in the context query
    itself (``load_customer_context_and_version``): one read for the customer, their
    context and the catalog version. Other references, and an external id no customer
    has (a former id of an erased customer is recognised there), take
    ``resolve_customer``."""
    now = now or timezone.now()
    prefetched = None
    external_id = reference.get("external_id")
    if isinstance(external_id, str):
        loaded = snapshots.peek(now)
        found = load_customer_context_and_version(
            external_id, now=now, **history_scope(loaded.engine)
        )
        if found is not None:
            customer, context, version = found
            resolution = external_id_resolution(external_id, customer)
            if not snapshots.is_current(loaded, version, now):
                loaded = snapshots.get(now)
                context = context_for(loaded, customer, now)
            prefetched = (loaded, context)
        else:
            resolution = external_id_resolution(external_id, None)
    else:
        resolution = resolve_customer(reference)
    if resolution.erased:
        raise Unprocessable(
            "The customer was erased at their request; no decision is made for them.",
            fields={"customer": ["erased"]},
        )
    if resolution.customer is None:
        raise NotFound("Unknown customer.", fields={"customer": [resolution.reason or "not found"]})
    return _decide(
        actor=actor,
        customer=resolution.customer,
        channel=channel,
        event_type=event_type,
        page=page,
        max_offers=max_offers,
        identity=resolution,
        now=now,
        prefetched=prefetched,
    )


def _decide(
    *,
    actor: Any,
    customer: Customer,
    channel: str,
    event_type: str | None,
    page: str | None,
    max_offers: int | None,
    identity: Resolution | None,
    now: datetime,
    prefetched: tuple[LoadedSnapshot, engine.CustomerContext] | None = None,
) -> Decision:
    if channel not in INBOUND:
        raise ValidationFailed(
            "Decisions are asked for inbound channels only.",
            fields={"channel": [f"must be one of {', '.join(sorted(INBOUND))}"]},
        )
    if customer.is_erased:
        # An erased customer is addressable by no reference: nothing is decided or stored.
        raise Unprocessable(
            "The customer was erased at their request; no decision is made for them.",
            fields={"customer": ["erased"]},
        )
    loaded, context = prefetched or snapshot_and_context(customer, now)
    plans = loaded.engine.inbound_by_channel.get(channel, ())
    request = engine.DecisionRequest(
        mode="inbound",
        now=now,
        channel=channel,
        event_type=event_type,
        page=page,
        max_offers=max_offers,
        campaign_volume_today=volume_today(loaded, [plan.id for plan in plans], now),
    )
    result = engine.decide(loaded.engine, context, request)
    stored = decision_store(
        loaded=loaded,
        result=result,
        request=request,
        customer=customer,
        mode=DecisionMode.INBOUND,
        channel=channel,
        requested_by=actor_name(actor),
        identity=identity,
        expires_at=now + timedelta(seconds=settings.DECISION_TTL_SECONDS),
    )
    return stored.decision
