"""Send time: one queued message re-decided by the same registered checks as decide time.

A message was decided minutes or days ago; before a channel hands it out, the world may
have moved (a failed payment, a revoke, a new holding, an approval withdrawn, a campaign
paused). ``recheck`` applies the checks of ``policy.CHECKS`` — the very functions
``decide`` wires — to the message's campaign, offer and channel over a fresh customer
context and the current snapshot, in ``reasons.STAGES`` order, and then quiet hours.

Differences from a decision, each because the message already holds its place:

- the context excludes the message's own decision's contacts (the caller loads it with
  ``exclude_decision_id``), so the message does not count against its own caps, cooldown
  or presented-elsewhere window;
- the campaign's daily volume limit (``reasons.FINAL_STAGES``) was spent when it was
  decided, and is not applied again;
- scoring, arbitration and the control group are not re-run: send time answers "may this
  still go out", not "is it still the best".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from . import reasons as r
from .policy import (
    CAMPAIGN,
    CHANNEL,
    CHANNEL_LIST,
    CHECKS,
    CustomerState,
    Verdict,
    deferral,
)
from .snapshot import CampaignPlan, OfferPlan, Snapshot
from .types import CustomerContext, DecisionRequest

LEASE = "lease"
CANCEL = "cancel"
DEFER = "defer"

# Send-time reasons that are not stages: the campaign or the offer left the snapshot.
CAMPAIGN_NOT_RUNNING = "campaign_not_running"
OFFER_NOT_IN_CAMPAIGN = "offer_not_in_campaign"
SEND_TIME_REASONS: frozenset[str] = frozenset({CAMPAIGN_NOT_RUNNING, OFFER_NOT_IN_CAMPAIGN})

# Every stage the send time applies, in order (the channel list is the message's one
# channel, so ``no_channel`` cannot fail; the volume limit was spent at decide time).
SEND_STAGES: tuple[str, ...] = tuple(
    stage for stage in r.CANDIDATE_STAGES + r.CHANNEL_STAGES if CHECKS[stage].group != CHANNEL_LIST
)


class SendVerdict(NamedTuple):
    """``lease``, ``cancel`` (with the failed verdict) or ``defer`` (until quiet hours end)."""

    action: str
    reason: str | None = None
    detail: Mapping[str, Any] = {}
    deliver_after: datetime | None = None
    exempt: tuple[str, ...] = ()  # marketing rules a service action was exempt from

    @property
    def leases(self) -> bool:
        return self.action == LEASE


def _plan(
    snapshot: Snapshot, campaign_id: int | None, offer_code: str
) -> tuple[CampaignPlan, OfferPlan] | SendVerdict:
    plan = snapshot.plans.get(campaign_id) if campaign_id is not None else None
    if plan is None or plan.shadow:
        return SendVerdict(CANCEL, CAMPAIGN_NOT_RUNNING, {"campaign_id": campaign_id})
    for offer_plan in plan.offer_plans:
        if offer_plan.code == offer_code:
            return plan, offer_plan
    return SendVerdict(CANCEL, OFFER_NOT_IN_CAMPAIGN, {"offer_code": offer_code})


def _run(
    stage: str, plan: CampaignPlan, offer: OfferPlan, channel: str, state: CustomerState
) -> Verdict:
    check = CHECKS[stage]
    if check.group == CAMPAIGN:
        return check.run(plan, state)
    if check.group == CHANNEL:
        return check.run(offer, channel, state)
    return check.run(offer, state)


def recheck(
    snapshot: Snapshot,
    customer: CustomerContext,
    *,
    campaign_id: int | None,
    offer_code: str,
    channel: str,
    now: datetime,
) -> SendVerdict:
    """May this campaign's offer go out to this customer on this channel now?"""
    state = CustomerState(snapshot, customer, DecisionRequest(mode="batch", now=now))
    return recheck_state(
        snapshot, state, campaign_id=campaign_id, offer_code=offer_code, channel=channel
    )


def recheck_state(
    snapshot: Snapshot,
    state: CustomerState,
    *,
    campaign_id: int | None,
    offer_code: str,
    channel: str,
) -> SendVerdict:
    """``recheck`` over a customer state already built (a decision's own)."""
    planned = _plan(snapshot, campaign_id, offer_code)
    if isinstance(planned, SendVerdict):
        return planned
    plan, offer = planned
    exempt: list[str] = []
    for stage in SEND_STAGES:
        verdict = _run(stage, plan, offer, channel, state)
        if not verdict.passed:
            return SendVerdict(CANCEL, verdict.rule, verdict.detail)
        if verdict.exempt and verdict.detail.get("would_have_blocked"):
            exempt.append(verdict.rule)
    until = deferral(channel, state)
    if until is not None:
        return SendVerdict(DEFER, r.QUIET_HOURS, {"until": until}, until, tuple(exempt))
    return SendVerdict(LEASE, exempt=tuple(exempt))


def owed_plan(snapshot: Snapshot, campaign_id: int, offer_code: str) -> OfferPlan | None:
    """The offer plan of an owed service action, while its campaign still runs it."""
    planned = _plan(snapshot, campaign_id, offer_code)
    return None if isinstance(planned, SendVerdict) else planned[1]
