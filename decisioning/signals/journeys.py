"""Journeys on absence: "event B has not followed event A within N days"."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.actors import system_actor
from customers.models import Event
from decisioning import engine
from decisioning.choices import DecisionMode
from decisioning.decisions.inbound import context_for, volume_today
from decisioning.decisions.snapshots import current_snapshot
from decisioning.decisions.store import decision_store
from decisioning.models import Decision

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
            result = engine.decide(loaded.engine, context_for(loaded, event.customer, now), request)
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
