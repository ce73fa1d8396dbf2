"""Decisioning writes: signals in, decisions stored, messages queued, offers audited.

The engine (``decisioning.engine``) is pure; these services load its inputs, call it and
persist what it decided — each decision, its contacts, messages and audit rows in one
transaction.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.actors import actor_name, system_actor
from core.channels import INBOUND, OUTBOUND
from core.exceptions import Conflict, ValidationFailed
from core.json import canonical_json
from customers.choices import EventStatus
from customers.identity import Resolution, customer_reference_errors, resolve_customer
from customers.models import Customer, Event
from decisioning import engine
from decisioning.choices import DecisionMode
from decisioning.context import load_context_and_version
from decisioning.models import Contact, Decision, Message
from decisioning.snapshots import LoadedSnapshot, current_snapshot, snapshots
from ledger.choices import AuditKind
from ledger.services import audit_many, build_record

logger = logging.getLogger(__name__)


# --- storing what the engine decided -------------------------------------------------


def _offer_for_api(offer: engine.ReleasedOffer) -> dict[str, Any]:
    return {
        "rank": offer.rank,
        "offer_code": offer.offer_code,
        "product_code": offer.product_code,
        "campaign": offer.campaign_code,
        "channel": offer.channel,
        "content_version": offer.content.version,
        "content": {
            "headline": offer.content.headline,
            "body": offer.content.body,
            "call_to_action": offer.content.call_to_action,
            "disclosure": offer.content.disclosure,
        },
        "score": round(offer.score, 6),
        "score_factors": {
            "propensity": offer.factors.propensity,
            "value": offer.factors.value,
            "lever": offer.factors.lever,
            "context_weight": offer.factors.context_weight,
        },
        "reasons": list(offer.reasons),
        "deliver_after": offer.deliver_after.isoformat() if offer.deliver_after else None,
    }


def _suppressed_for_api(item: engine.Suppressed) -> dict[str, Any]:
    return {
        "offer_code": item.offer_code,
        "campaign": item.campaign_code,
        "channel": item.channel,
        "reason": item.reason,
    }


def released_audit_data(
    *,
    decision: Decision,
    offer: engine.ReleasedOffer,
    loaded_versions: dict[str, Any],
    event: Event | None,
) -> dict[str, Any]:
    """What a regulator asks of a released offer, without PII."""
    return {
        "decision_id": str(decision.pk),
        "offer_code": offer.offer_code,
        "product_code": offer.product_code,
        "kind": offer.kind,
        "campaign": offer.campaign_code,
        "content_version": offer.content.version,
        "content_hash": offer.content.content_hash,
        "triggering_event": (
            {"event_id": event.event_id, "type": event.type} if event is not None else None
        ),
        "model_version": offer.factors.model_version,
        "policy_version": loaded_versions["policy_version"],
        "snapshot_version": loaded_versions["snapshot_version"],
        "score": offer.score,
        "score_factors": {
            "propensity": offer.factors.propensity,
            "value": offer.factors.value,
            "lever": offer.factors.lever,
            "context_weight": offer.factors.context_weight,
        },
        "rationale": list(offer.reasons),
    }


@dataclass(frozen=True, slots=True)
class StoredDecision:
    decision: Decision
    messages: tuple[Message, ...]
    created: bool


def decision_store(
    *,
    loaded: LoadedSnapshot,
    result: engine.Decision,
    request: engine.DecisionRequest,
    customer: Customer,
    mode: str,
    channel: str = "",
    event: Event | None = None,
    campaign_id: int | None = None,
    run_id: int | None = None,
    requested_by: str,
    identity: Resolution | None = None,
    expires_at: datetime | None = None,
) -> StoredDecision:
    """Persist one decision with its contacts, queued messages and audit rows.

    Inbound offers are released now, so each gets its audit record here; outbound
    offers become queued messages, audited when a channel leases them.
    """
    now = result.decided_at
    explanation = result.to_dict()
    explanation["request"] = {
        "max_offers": request.max_offers,
        "campaign_ids": sorted(request.campaign_ids) if request.campaign_ids else None,
    }
    if identity is not None:
        explanation["identity"] = identity.as_dict()
    decision = Decision(
        customer=customer,
        mode=mode,
        channel=channel,
        event=event,
        campaign_id=campaign_id,
        run_id=run_id,
        created_at=now,
        expires_at=expires_at,
        control_group=result.control_group,
        shadow=campaign_id is not None and loaded.engine.campaigns[campaign_id].shadow,
        offers_released=len(result.offers),
        top_offer_code=result.top_offer_code or "",
        outcome_reason=result.outcome,
        snapshot_version=result.snapshot_version,
        policy_version=result.policy_version,
        offers=[_offer_for_api(offer) for offer in result.offers],
        suppressed=[_suppressed_for_api(item) for item in result.suppressed],
        explanation=explanation,
        requested_by=requested_by,
    )
    versions = {
        "policy_version": result.policy_version,
        "snapshot_version": result.snapshot_version,
    }
    messages: list[Message] = []
    try:
        with transaction.atomic():
            decision.save(force_insert=True)
            contacts: list[Contact] = []
            records = []
            for offer in result.offers:
                offer_id = loaded.offer_ids[offer.offer_code]
                message = None
                if offer.channel in OUTBOUND:
                    message = Message(
                        decision=decision,
                        customer=customer,
                        campaign_id=offer.campaign_id,
                        offer_id=offer_id,
                        content_id=loaded.content_ids[
                            (offer.offer_code, offer.channel, offer.content.version)
                        ],
                        channel=offer.channel,
                        deliver_after=offer.deliver_after or now,
                        created_at=now,
                    )
                    messages.append(message)
                else:
                    records.append(
                        build_record(
                            kind=AuditKind.OFFER_RELEASED,
                            action="inbound_offer_released",
                            actor=requested_by,
                            object_type="decision",
                            object_id=decision.pk,
                            object_repr=offer.offer_code,
                            customer_ref=customer.pseudonym,
                            channel=offer.channel,
                            data=released_audit_data(
                                decision=decision,
                                offer=offer,
                                loaded_versions=versions,
                                event=event,
                            ),
                            at=now,
                        )
                    )
                contacts.append(
                    Contact(
                        customer=customer,
                        decision=decision,
                        message=message,
                        campaign_id=offer.campaign_id,
                        offer_id=offer_id,
                        product_code=offer.product_code,
                        family=offer.family,
                        kind=offer.kind,
                        channel=offer.channel,
                        released_at=now,
                    )
                )
            Message.objects.bulk_create(messages)
            Contact.objects.bulk_create(contacts)
            for exemption in result.exemptions:
                records.append(
                    build_record(
                        kind=AuditKind.EXEMPTION,
                        action="service_exemption",
                        actor=requested_by,
                        object_type="decision",
                        object_id=decision.pk,
                        object_repr=exemption.offer_code,
                        customer_ref=customer.pseudonym,
                        channel=exemption.channel,
                        data=exemption.to_dict(),
                        at=now,
                    )
                )
            audit_many(records)
    except IntegrityError:
        # The same signal decided concurrently (retry, duplicate delivery): keep theirs.
        existing = _existing_decision(
            event=event, campaign_id=campaign_id, run_id=run_id, customer=customer
        )
        if existing is None:
            raise
        return StoredDecision(existing, tuple(existing.messages.all()), created=False)
    return StoredDecision(decision, tuple(messages), created=True)


def _existing_decision(*, event, campaign_id, run_id, customer) -> Decision | None:
    if event is not None:
        return Decision.objects.filter(event=event, campaign_id=campaign_id).first()
    if run_id is not None:
        return Decision.objects.filter(run_id=run_id, customer=customer).first()
    return None


# --- inbound: a customer is present ---------------------------------------------------


def _context_for(
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
    snapshot = loaded.engine
    return load_context_and_version(
        customer,
        now=now,
        policy=snapshot.policy,
        longest_offer_cooldown=max((o.cooldown_days for o in snapshot.offers.values()), default=0),
        capped_campaign_ids=frozenset(
            cid for cid, c in snapshot.campaigns.items() if c.per_customer_cap
        ),
        exclude_decision_id=exclude_decision.pk if exclude_decision else None,
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
        context = _context_for(loaded, customer, now)
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


def decide_inbound(
    *,
    actor: Any,
    customer: Customer,
    channel: str,
    event_type: str | None = None,
    max_offers: int | None = None,
    identity: Resolution | None = None,
    now: datetime | None = None,
) -> Decision:
    """Next best offers for a customer present on an inbound channel, released now."""
    if channel not in INBOUND:
        raise ValidationFailed(
            "Decisions are asked for inbound channels only.",
            fields={"channel": [f"must be one of {', '.join(sorted(INBOUND))}"]},
        )
    now = now or timezone.now()
    loaded, context = snapshot_and_context(customer, now)
    plans = loaded.engine.inbound_by_channel.get(channel, ())
    request = engine.DecisionRequest(
        mode="inbound",
        now=now,
        channel=channel,
        event_type=event_type,
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
    as unresolved and processed when an identity link or profile appears.
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
    existing = Event.objects.filter(event_id=event_id).first()
    if existing is not None:
        return _duplicate_or_conflict(existing, body_hash)
    resolution = resolve_customer(customer)
    event = Event(
        event_id=event_id,
        type=type,
        occurred_at=occurred_at,
        customer=resolution.customer,
        customer_ref=customer,
        channel=channel,
        payload=payload,
        status=EventStatus.ACCEPTED if resolution.resolved else EventStatus.UNRESOLVED,
        identity_link=resolution.link if resolution.resolved else None,
        identity_confidence=resolution.confidence if resolution.resolved else None,
        body_hash=body_hash,
        source=actor_name(actor),
    )
    try:
        with transaction.atomic():
            event.full_clean(exclude=["customer", "identity_link"])
            event.save(force_insert=True)
            if event.status == EventStatus.ACCEPTED:
                _queue_processing(event)
    except IntegrityError:
        existing = Event.objects.filter(event_id=event_id).first()
        if existing is None:
            raise
        return _duplicate_or_conflict(existing, body_hash)
    return IngestedEvent(event, duplicate=False)


def _duplicate_or_conflict(existing: Event, body_hash: str) -> IngestedEvent:
    if existing.body_hash != body_hash:
        raise Conflict(
            f"event_id {existing.event_id!r} was already used with a different body.",
            fields={"event_id": ["already used with a different body"]},
        )
    return IngestedEvent(existing, duplicate=True)


def _queue_processing(event: Event) -> None:
    from decisioning.tasks import process_event

    event_pk = event.pk
    transaction.on_commit(lambda: process_event.delay(event_pk))


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


def event_process(*, event_pk: int, now: datetime | None = None) -> list[Decision]:
    """Run the real-time campaigns an event triggers: one decision per (event, campaign).

    Campaigns are decided one at a time in priority order, each seeing what the previous
    ones released, so caps and arbitration hold across campaigns. Safe to repeat.
    """
    event = Event.objects.select_related("customer").filter(pk=event_pk).first()
    if event is None or event.customer is None or event.status == EventStatus.UNRESOLVED:
        return []
    now = now or timezone.now()
    loaded = current_snapshot(now)
    plans = loaded.engine.realtime_by_event.get(event.type, ())
    done = set(Decision.objects.filter(event=event).values_list("campaign_id", flat=True))
    decisions = list(Decision.objects.filter(event=event))
    for plan in plans:
        # Journey campaigns wait for the follow-up that never came (absence_triggers_fire).
        if plan.id in done or plan.id in loaded.absence:
            continue
        request = engine.DecisionRequest(
            mode="event",
            now=now,
            event_type=event.type,
            event_id=event.event_id,
            campaign_ids=frozenset({plan.id}),
            campaign_volume_today=volume_today(loaded, [plan.id], now),
        )
        result = engine.decide(loaded.engine, _context_for(loaded, event.customer, now), request)
        stored = decision_store(
            loaded=loaded,
            result=result,
            request=request,
            customer=event.customer,
            mode=DecisionMode.EVENT,
            event=event,
            campaign_id=plan.id,
            requested_by=system_actor("process_event"),
        )
        if stored.created:
            decisions.append(stored.decision)
    Event.objects.filter(pk=event.pk).exclude(status=EventStatus.PROCESSED).update(
        status=EventStatus.PROCESSED, processed_at=now
    )
    return decisions


# --- journeys that continue: triggers on absence ------------------------------------------

ABSENCE_LOOKBACK = timedelta(days=7)


def absence_triggers_fire(*, now: datetime | None = None) -> int:
    """Decide for every trigger event whose follow-up did not come within the window.

    "Card issued, not activated in 7 days": for each journey campaign, events of its
    trigger types that are at least N days old (and at most N days + a week, so an old
    backlog is not replayed), with no follow-up event of the awaited type since, and no
    decision yet for (event, campaign). The unique (event, campaign) constraint makes it
    idempotent per customer, campaign and triggering event.
    """
    now = now or timezone.now()
    loaded = current_snapshot(now)
    fired = 0
    for campaign_id, (awaited_type, days) in loaded.absence.items():
        plan = loaded.engine.plans[campaign_id]
        due = now - timedelta(days=days)
        followed = Event.objects.filter(
            customer=OuterRef("customer"),
            type=awaited_type,
            occurred_at__gte=OuterRef("occurred_at"),
        )
        decided = Decision.objects.filter(event=OuterRef("pk"), campaign_id=campaign_id)
        triggers = (
            Event.objects.filter(
                type__in=sorted(plan.campaign.trigger_event_types),
                customer__isnull=False,
                occurred_at__lte=due,
                occurred_at__gt=due - ABSENCE_LOOKBACK,
            )
            .exclude(Exists(followed))
            .exclude(Exists(decided))
            .select_related("customer")
            .order_by("occurred_at")
        )
        for event in triggers.iterator(chunk_size=500):
            request = engine.DecisionRequest(
                mode="absence",
                now=now,
                event_type=event.type,
                event_id=event.event_id,
                campaign_ids=frozenset({campaign_id}),
                campaign_volume_today=volume_today(loaded, [campaign_id], now),
            )
            result = engine.decide(
                loaded.engine, _context_for(loaded, event.customer, now), request
            )
            stored = decision_store(
                loaded=loaded,
                result=result,
                request=request,
                customer=event.customer,
                mode=DecisionMode.ABSENCE,
                event=event,
                campaign_id=campaign_id,
                requested_by=system_actor("absence_triggers"),
            )
            fired += stored.created
    return fired


# --- replay: the same request under today's rules ------------------------------------------


def decision_replay(*, decision: Decision, now: datetime | None = None) -> dict[str, Any]:
    """Re-decide a stored decision under today's snapshot and say what would change and why.

    The customer is taken as they are now, without the contacts this decision itself
    released (so it does not suppress itself).
    """
    now = now or timezone.now()
    loaded = current_snapshot(now)
    explanation = decision.explanation or {}
    asked = explanation.get("request") or {}
    campaign_ids = frozenset({decision.campaign_id}) if decision.campaign_id else None
    request = engine.DecisionRequest(
        mode=decision.mode,
        now=now,
        channel=decision.channel or None,
        event_type=decision.event.type if decision.event_id else explanation.get("event_type"),
        event_id=decision.event.event_id if decision.event_id else None,
        campaign_ids=campaign_ids,
        max_offers=asked.get("max_offers"),
    )
    if decision.run_id and decision.campaign_id not in loaded.engine.plans:
        from decisioning.snapshots import build

        loaded = build(now, extra_campaign_ids=frozenset({decision.campaign_id}))
    context = _context_for(loaded, decision.customer, now, exclude_decision=decision)
    new = engine.decide(loaded.engine, context, request)
    stored = {**explanation, "offers": decision.offers}
    return {
        "decision_id": str(decision.pk),
        "replayed_at": now.isoformat(),
        "diff": engine.compare(stored, new).to_dict(),
        "now": {
            "outcome": new.outcome,
            "control_group": new.control_group,
            "offers": [_offer_for_api(offer) for offer in new.offers],
            "suppressed": [_suppressed_for_api(item) for item in new.suppressed],
        },
    }


# --- erasure: what the decision ledger keeps of an erased customer -------------------------

REDACTED_OFFER_FIELDS = (
    "rank",
    "offer_code",
    "product_code",
    "campaign",
    "channel",
    "content_version",
)


def decisions_redact_for_customer(*, customer: Customer) -> int:
    """Strip personal data from an erased customer's decisions.

    Explanations hold the bank's customer id, the profile values each rule saw and
    scores derived from the profile; what stays is what is not about the person: which
    offers were released where, each candidate's outcome, and the versions in force.
    """
    redacted = []
    for decision in Decision.objects.filter(customer=customer).only("id", "explanation", "offers"):
        explanation = decision.explanation or {}
        decision.explanation = {
            "redacted": "erasure",
            "mode": explanation.get("mode"),
            "outcome": explanation.get("outcome"),
            "control_group": explanation.get("control_group"),
            "policy_version": explanation.get("policy_version"),
            "snapshot_version": explanation.get("snapshot_version"),
            "model_versions": explanation.get("model_versions", {}),
            "candidates": [
                {key: item.get(key) for key in ("offer_code", "campaign", "outcome")}
                for item in explanation.get("candidates", ())
            ],
        }
        decision.offers = [
            {key: offer.get(key) for key in REDACTED_OFFER_FIELDS}
            for offer in decision.offers or ()
        ]
        redacted.append(decision)
    Decision.objects.bulk_update(redacted, ["explanation", "offers"], batch_size=500)
    return len(redacted)
