"""Deciding on a signal: one decision per (event, campaign), campaigns in priority order,
each seeing what the previous released.

A trigger reads the signal (``engine.triggers``): an event too old, dated in the future,
or not matching the campaign's condition or pages fires nothing, and its decision for
that campaign records why (``event_too_old``, ``event_in_future``,
``trigger_condition_not_met``), so every event says what became of it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from core.actors import system_actor
from customers.choices import EventStatus
from customers.models import Event
from decisioning import engine
from decisioning.choices import DecisionMode
from decisioning.decisions.inbound import context_for, volume_today
from decisioning.decisions.snapshots import LoadedSnapshot, current_snapshot
from decisioning.decisions.store import decision_store
from decisioning.engine.snapshot import CampaignPlan
from decisioning.engine.triggers import TriggerVerdict, not_fired, trigger_verdict
from decisioning.models import Decision


def trigger_event(event: Event, *, waited: timedelta | None = None) -> engine.TriggerEvent:
    """What the campaigns' triggers read of a stored event."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    return engine.TriggerEvent(occurred_at=event.occurred_at, payload=payload, waited=waited)


def event_page(event: Event) -> str | None:
    """The page a page_view (or any event with a ``page`` in its payload) names."""
    page: Any = (event.payload or {}).get("page") if isinstance(event.payload, dict) else None
    return page if isinstance(page, str) else None


def decide_triggered(
    *,
    loaded: LoadedSnapshot,
    plan: CampaignPlan,
    event: Event,
    signal: engine.TriggerEvent,
    mode: str,
    now: datetime,
    requested_by: str,
    verdict: TriggerVerdict | None = None,
) -> tuple[Decision, bool]:
    """Decide and store one (event, campaign): the engine's decision when the trigger
    fires, the trigger's refusal otherwise. Returns the decision and whether it is new."""
    verdict = verdict or trigger_verdict(plan.campaign, event.type, signal, now)
    request = engine.DecisionRequest(
        mode=mode,
        now=now,
        event_type=event.type,
        event_id=event.event_id,
        campaign_ids=frozenset({plan.id}),
        campaign_volume_today=volume_today(loaded, [plan.id], now) if verdict.fired else {},
        event=signal,
        page=event_page(event),
    )
    if verdict.fired:
        result = engine.decide(loaded.engine, context_for(loaded, event.customer, now), request)
        result = replace(result, trigger=verdict.to_dict())
    else:
        # Nothing to decide: no context is read, the refusal is what is stored.
        result = not_fired(
            loaded.engine,
            customer_id=event.customer.pk,
            external_id=event.customer.external_id,
            request=request,
            verdict=verdict,
        )
    stored = decision_store(
        loaded=loaded,
        result=result,
        request=request,
        customer=event.customer,
        mode=mode,
        event=event,
        campaign_id=plan.id,
        requested_by=requested_by,
    )
    return stored.decision, stored.created


def event_process(*, event_pk: int, now: datetime | None = None) -> list[Decision]:
    """Run the real-time campaigns an event triggers: one decision per (event, campaign).

    Campaigns are decided one at a time in priority order, each seeing what the previous
    ones released, so caps and arbitration hold across campaigns. A campaign whose
    trigger refuses the event gets a decision that says why, and releases nothing. A
    journey campaign waits for the follow-up that never came (``absence_triggers_fire``),
    unless its trigger refuses the event already. Safe to repeat.
    """
    event = Event.objects.select_related("customer").filter(pk=event_pk).first()
    if (
        event is None
        or event.customer is None
        or event.status in (EventStatus.UNRESOLVED, EventStatus.ERASED)
    ):
        return []
    now = now or timezone.now()
    loaded = current_snapshot(now)
    plans = loaded.engine.realtime_by_event.get(event.type, ())
    decisions = list(Decision.objects.filter(event=event))
    done = {decision.campaign_id for decision in decisions}
    requested_by = system_actor("process_event")
    for plan in plans:
        if plan.id in done:
            continue
        journey = loaded.absence.get(plan.id)
        signal = trigger_event(
            event, waited=timedelta(days=journey[1]) if journey is not None else None
        )
        verdict = trigger_verdict(plan.campaign, event.type, signal, now)
        if journey is not None and verdict.fired:
            continue  # the journey decides when its wait is over
        decision, created = decide_triggered(
            loaded=loaded,
            plan=plan,
            event=event,
            signal=signal,
            mode=DecisionMode.EVENT,
            now=now,
            requested_by=requested_by,
            verdict=verdict,
        )
        if created:
            decisions.append(decision)
    Event.objects.filter(pk=event.pk).exclude(status=EventStatus.PROCESSED).update(
        status=EventStatus.PROCESSED, processed_at=now
    )
    return decisions
