"""Replaying a stored decision under today's rules: what would change, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from decisioning import engine
from decisioning.decisions.explanation import full_trace
from decisioning.decisions.inbound import context_for
from decisioning.decisions.released import stored_offers, stored_suppressed
from decisioning.decisions.snapshots import current_snapshot
from decisioning.models import Decision

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
        from decisioning.decisions.snapshots import build

        loaded = build(now, extra_campaign_ids=frozenset({decision.campaign_id}))
    context = context_for(loaded, decision.customer, now, exclude_decision=decision)
    new = engine.decide(loaded.engine, context, request)
    stored = {**full_trace(decision), "offers": decision.offers}
    return {
        "decision_id": str(decision.pk),
        "replayed_at": now.isoformat(),
        "diff": engine.compare(stored, new).to_dict(),
        "now": {
            "outcome": new.outcome,
            "control_group": new.control_group,
            "offers": stored_offers(new.offers),
            "suppressed": [stored_suppressed(item) for item in new.suppressed],
        },
    }
