"""Deciding on a signal: one decision per (event, campaign), campaigns in priority order,
each seeing what the previous released.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from core.actors import system_actor
from customers.choices import EventStatus
from customers.models import Event
from decisioning import engine
from decisioning.choices import DecisionMode
from decisioning.decisions.inbound import context_for, volume_today
from decisioning.decisions.snapshots import current_snapshot
from decisioning.decisions.store import decision_store
from decisioning.models import Decision


def event_process(*, event_pk: int, now: datetime | None = None) -> list[Decision]:
    """Run the real-time campaigns an event triggers: one decision per (event, campaign).

    Campaigns are decided one at a time in priority order, each seeing what the previous
    ones released, so caps and arbitration hold across campaigns. Safe to repeat.
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
        result = engine.decide(loaded.engine, context_for(loaded, event.customer, now), request)
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
