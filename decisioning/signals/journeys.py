"""Journeys on absence: "event B has not followed event A within N days"."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.actors import system_actor
from customers.models import Event
from decisioning.choices import DecisionMode
from decisioning.decisions.snapshots import current_snapshot
from decisioning.engine.reasons import TRIGGER_OUTCOMES
from decisioning.models import Decision
from decisioning.signals.process import decide_triggered, trigger_event

# --- journeys that continue: triggers on absence ------------------------------------------


def absence_triggers_fire(*, now: datetime | None = None) -> int:
    """Decide for every trigger event whose follow-up did not come within the window.

    "Card issued, not activated in 7 days": for each journey campaign, events of its
    trigger types whose wait (N days) is over — at most the trigger's maximum age ago
    (``engine.triggers``: a late beat does not replay an old backlog) — with no follow-up
    event of the awaited type since, and no decision yet for (event, campaign). Each is
    decided when its trigger's condition and pages match the event, and stored as the
    trigger's refusal otherwise. The unique (event, campaign) constraint makes it
    idempotent per customer, campaign and triggering event. Returns the decisions made
    on journeys that fired.
    """
    now = now or timezone.now()
    loaded = current_snapshot(now)
    requested_by = system_actor("absence_triggers")
    fired = 0
    for campaign_id, (awaited_type, days) in loaded.absence.items():
        plan = loaded.engine.plans[campaign_id]
        campaign = plan.campaign
        wait = timedelta(days=days)
        due = now - wait
        types = sorted(campaign.trigger_event_types)
        lookback = max(
            (campaign.triggers[t].max_age for t in types if t in campaign.triggers),
            default=timedelta(0),
        )
        followed = Event.objects.filter(
            customer=OuterRef("customer"),
            type=awaited_type,
            occurred_at__gte=OuterRef("occurred_at"),
        )
        decided = Decision.objects.filter(event=OuterRef("pk"), campaign_id=campaign_id)
        triggers = (
            Event.objects.filter(
                type__in=types,
                customer__isnull=False,
                occurred_at__lte=due,
                occurred_at__gte=due - lookback,
            )
            .exclude(Exists(followed))
            .exclude(Exists(decided))
            .select_related("customer")
            .order_by("occurred_at")
        )
        for event in triggers.iterator(chunk_size=500):
            signal = trigger_event(event, waited=wait)
            decision, created = decide_triggered(
                loaded=loaded,
                plan=plan,
                event=event,
                signal=signal,
                mode=DecisionMode.ABSENCE,
                now=now,
                requested_by=requested_by,
            )
            fired += created and decision.outcome_reason not in TRIGGER_OUTCOMES
    return fired
