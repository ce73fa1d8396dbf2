"""A trigger reads the signal: does this event fire this campaign?

A real-time campaign names the event types that fire it (``trigger_event_types``) and,
per type, what the event must be (``types.TriggerSpec``):

1. not dated ahead of the decision's clock by more than ``CLOCK_SKEW``
   (else ``event_in_future``);
2. not older than the trigger's ``max_age`` (default 24 hours) — for a journey, not
   later than ``max_age`` after its wait ended (else ``event_too_old``);
3. on a page matching one of the trigger's page patterns, when it has any
   (``pages.py``; else ``trigger_condition_not_met``);
4. matching the trigger's condition on the payload (``rules.parse_payload_rule``; else
   ``trigger_condition_not_met``).

A refused event fires nothing; its decision (``not_fired``) records the reason and what
the trigger saw, so the event says why. ``decide`` drops campaigns whose trigger refuses
the request's event, whoever calls it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, NamedTuple

from . import reasons as r
from .decision import Decision
from .pages import first_match, page_path
from .policy import json_safe, policy_summary
from .snapshot import Snapshot
from .types import CLOCK_SKEW, CampaignSpec, DecisionRequest, TriggerEvent, TriggerSpec

_PLAIN = (str, int, float, bool, type(None))


class TriggerVerdict(NamedTuple):
    """Whether a campaign's trigger fires on an event, with what it saw."""

    fired: bool
    reason: str | None  # a ``reasons.TRIGGER_OUTCOMES`` code when it did not fire
    detail: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"fired": self.fired, "reason": self.reason, **json_safe(dict(self.detail))}


def trigger_for(campaign: CampaignSpec, event_type: str) -> TriggerSpec:
    """The campaign's trigger for ``event_type``: its own, or the default one."""
    return campaign.triggers.get(event_type) or TriggerSpec(event_type)


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _seen(payload: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """The payload values the condition read (and only those: a payload may hold more)."""
    seen: dict[str, Any] = {}
    for name in sorted(names):
        value: Any = payload
        for key in name.split("."):
            value = value.get(key) if isinstance(value, Mapping) else None
        seen[name] = value if isinstance(value, _PLAIN) else f"<{type(value).__name__}>"
    return seen


def trigger_verdict(
    campaign: CampaignSpec, event_type: str, event: TriggerEvent, now: Any
) -> TriggerVerdict:
    """Does ``event`` (of ``event_type``, decided at ``now``) fire ``campaign``?"""
    trigger = trigger_for(campaign, event_type)
    age = now - event.occurred_at
    detail: dict[str, Any] = {
        "event_type": event_type,
        "occurred_at": event.occurred_at,
        "age_hours": _hours(age),
        "max_age_hours": _hours(trigger.max_age),
    }
    if -age > CLOCK_SKEW:
        detail["clock_skew_minutes"] = CLOCK_SKEW.total_seconds() / 60
        return TriggerVerdict(False, r.EVENT_IN_FUTURE, detail)
    late = age if event.waited is None else age - event.waited
    if event.waited is not None:
        detail["waited_days"] = round(event.waited.total_seconds() / 86400, 2)
        detail["late_hours"] = _hours(late)
    if late > trigger.max_age:
        return TriggerVerdict(False, r.EVENT_TOO_OLD, detail)
    payload = event.payload if isinstance(event.payload, Mapping) else {}
    if trigger.pages:
        path = page_path(payload.get("page"))
        matched = first_match(trigger.pages, path)
        detail.update(pages=list(trigger.pages), page=path, page_pattern=matched)
        if matched is None:
            return TriggerVerdict(False, r.TRIGGER_CONDITION_NOT_MET, detail)
    if not trigger.condition.always_true:
        passed = trigger.condition.evaluate(payload)
        detail.update(
            condition=trigger.condition.to_text(),
            condition_met=passed,
            payload=_seen(payload, trigger.condition.fields()),
        )
        if not passed:
            return TriggerVerdict(False, r.TRIGGER_CONDITION_NOT_MET, detail)
    return TriggerVerdict(True, None, detail)


def request_verdict(campaign: CampaignSpec, request: DecisionRequest) -> TriggerVerdict | None:
    """The trigger's verdict on the request's event; None when there is nothing to read
    (not an event or absence decision, or no event given)."""
    if request.event is None or request.mode not in ("event", "absence"):
        return None
    return trigger_verdict(campaign, request.event_type or "", request.event, request.now)


def fires(campaign: CampaignSpec, request: DecisionRequest) -> bool:
    verdict = request_verdict(campaign, request)
    return verdict is None or verdict.fired


def not_fired(
    snapshot: Snapshot,
    *,
    customer_id: int,
    external_id: str,
    request: DecisionRequest,
    verdict: TriggerVerdict,
) -> Decision:
    """The decision for a campaign whose trigger refused the event: nothing considered,
    the outcome is the trigger's reason, ``trigger`` says what it saw."""
    if verdict.fired or verdict.reason is None:
        raise ValueError("not_fired needs a verdict that refused the event")
    return Decision(
        customer_id=customer_id,
        external_id=external_id,
        mode=request.mode,
        channel=request.channel,
        event_type=request.event_type,
        event_id=request.event_id,
        decided_at=request.now,
        offers=(),
        suppressed=(),
        control_group=False,
        would_have_offered=(),
        shadow=(),
        candidates=(),
        exemptions=(),
        outcome=verdict.reason,
        shadow_outcome=None,
        hardship_events=(),
        policy_version=snapshot.policy.version,
        snapshot_version=snapshot.version,
        model_versions={},
        policy=policy_summary(snapshot.policy),
        trigger=verdict.to_dict(),
    )


__all__ = [
    "TriggerVerdict",
    "fires",
    "not_fired",
    "request_verdict",
    "trigger_for",
    "trigger_verdict",
]
