"""``decide(snapshot, customer, request) -> Decision``: one customer, one signal.

candidates -> eligibility -> contact policy & suppression -> scoring -> arbitration and
channel choice -> control group -> Decision. The function is pure and deterministic:
the same snapshot, customer and request give the same decision.

Each rule is a function in ``policy``. A check reads only part of a candidate: the
customer and whether the offer is sales (consent flags, fatigue, caps), the offer
(validity, eligibility, family, decline...), the campaign (audience, cap, volume) or the
channel. So the verdicts are computed in groups, once per decision for each part, and a
candidate's verdict sequence (``reasons.CANDIDATE_STAGES`` order) is assembled from the
groups with its first failure found by index, not by re-running anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from core.channels import ALL_CHANNELS

from . import reasons as r
from .decision import (
    CandidateTrace,
    ChannelTrace,
    Decision,
    Exemption,
    ReleasedOffer,
    Suppressed,
)
from .hashing import in_control, pick_arm
from .policy import (
    CustomerState,
    Verdict,
    check_campaign_cap,
    check_channel_suppression,
    check_consent,
    check_content,
    check_decline_cooldown,
    check_do_not_contact,
    check_erased,
    check_fatigue,
    check_frequency_cap,
    check_global_opt_out,
    check_hardship,
    check_holds_product,
    check_offer_active,
    check_offer_cooldown,
    check_presented_elsewhere,
    check_rule,
    check_suppression,
    check_volume,
    deferral,
    policy_summary,
)
from .rules import Rule
from .scoring import ScoreFactors, context_weight
from .snapshot import CampaignPlan, OfferPlan, Snapshot
from .timeutil import require_aware
from .types import MODES, CustomerContext, DecisionRequest

Verdicts = tuple[Verdict, ...]


class _Group(NamedTuple):
    """Verdicts of one part of a candidate, and the index of the first failure (or len)."""

    verdicts: Verdicts
    failure: int


def _group(*verdicts: Verdict) -> _Group:
    for index, verdict in enumerate(verdicts):
        if not verdict.passed:
            return _Group(verdicts, index)
    return _Group(verdicts, len(verdicts))


# Where each group's verdicts sit in the CANDIDATE_STAGES sequence (the last entry, 13,
# stands for "no failure"): customer (erased, do-not-contact, global opt-out, fatigue,
# frequency cap), offer (active, eligible, held family, hardship, suppressed, declined),
# campaign (audience, campaign cap).
_CUSTOMER_AT = (0, 6, 7, 10, 12, 13)
_OFFER_AT = (1, 3, 4, 5, 8, 9, 13)
_CAMPAIGN_AT = (2, 11, 13)
_PASSED = 13


@dataclass(frozen=True, slots=True)
class _Campaign:
    """One campaign in one decision: the arm, the holdout and its shared verdicts."""

    plan: CampaignPlan
    arm: str
    held_out: bool
    channels: tuple[str, ...]
    checks: _Group  # audience, campaign cap
    volume: Verdict


class _Memo:
    """The verdict groups of one decision, each computed once.

    A group's key names everything its verdicts (details included) depend on besides the
    customer. Within the offer group, verdicts that read only the family, the kind or the
    product are shared too; approved-content verdicts depend on the snapshot alone and
    are kept on it for every decision.
    """

    __slots__ = ("customer", "offers", "shared", "state", "static")

    def __init__(self, state: CustomerState, snapshot: Snapshot) -> None:
        self.state = state
        self.static = snapshot.static_verdicts
        self.customer: dict[Any, _Group] = {}
        self.offers: dict[Any, _Group] = {}
        self.shared: dict[Any, Verdict] = {}

    def _shared(self, key: tuple[Any, ...], check: Any, *args: Any) -> Verdict:
        verdict = self.shared.get(key)
        if verdict is None:
            verdict = self.shared[key] = check(*args)
        return verdict

    def rule(self, rule: Rule, reason: str) -> Verdict:
        return self._shared((reason, id(rule)), check_rule, rule, reason, self.state)

    def customer_group(self, plan: OfferPlan) -> _Group:
        group = self.customer.get(plan.is_sales)
        if group is None:
            state = self.state
            group = self.customer[plan.is_sales] = _group(
                check_erased(state),
                check_do_not_contact(plan, state),
                check_global_opt_out(plan, state),
                check_fatigue(plan, state),
                check_frequency_cap(plan, state),
            )
        return group

    def offer_group(self, plan: OfferPlan) -> _Group:
        group = self.offers.get(plan.code)
        if group is None:
            state, shared, offer, sales = self.state, self._shared, plan.offer, plan.is_sales
            suppressed = state.suppress_all is not None or bool(state.suppressions)
            declined = plan.product_code if plan.product_code in state.declined else ""
            group = self.offers[plan.code] = _group(
                shared(
                    (r.OFFER_NOT_ACTIVE, offer.status, offer.valid_from, offer.valid_until),
                    check_offer_active,
                    plan,
                    state.now,
                ),
                self.rule(offer.eligibility, r.INELIGIBLE),
                shared((r.HOLDS_PRODUCT, plan.family, sales), check_holds_product, plan, state),
                shared((r.HARDSHIP_PROTECTION, sales, plan.is_credit), check_hardship, plan, state),
                shared(
                    (r.SUPPRESSED, plan.code if suppressed else ""), check_suppression, plan, state
                ),
                shared(
                    (r.COOLDOWN_AFTER_DECLINE, declined, sales), check_decline_cooldown, plan, state
                ),
            )
        return group

    def channel_group(self, plan: OfferPlan, channel: str) -> _Group:
        """The rules of ``reasons.CHANNEL_STAGES`` after ``no_channel``, in order."""
        key = (plan.code, channel)
        group = self.offers.get(key)
        if group is None:
            state, shared, code, sales = self.state, self._shared, plan.code, plan.is_sales
            content_key = (r.CONTENT_NOT_APPROVED, code, channel)
            content = self.static.get(content_key)
            if content is None:
                content = self.static[content_key] = check_content(plan, channel)
            cooled = code if (code, channel) in state.last_by_offer_channel else ""
            presented = code if code in state.presented else ""
            group = self.offers[key] = _group(
                shared((r.NO_CONSENT, channel, sales), check_consent, plan, channel, state),
                shared((r.CHANNEL_SUPPRESSED, channel), check_channel_suppression, channel, state),
                content,
                shared(
                    (r.OFFER_COOLDOWN, cooled, channel, plan.offer.cooldown_days),
                    check_offer_cooldown,
                    plan,
                    channel,
                    state,
                ),
                shared(
                    (r.PRESENTED_ELSEWHERE, presented, channel, sales),
                    check_presented_elsewhere,
                    plan,
                    channel,
                    state,
                ),
            )
        return group


def _candidate_verdicts(
    customer: _Group, offer: _Group, campaign: _Group
) -> tuple[Verdicts, Verdict | None]:
    """The CANDIDATE_STAGES sequence up to and including its first failure."""
    c, o, k = customer.verdicts, offer.verdicts, campaign.verdicts
    sequence = (c[0], o[0], k[0], o[1], o[2], o[3], c[1], c[2], o[4], o[5], c[3], k[1], c[4])
    first = min(
        _CUSTOMER_AT[customer.failure], _OFFER_AT[offer.failure], _CAMPAIGN_AT[campaign.failure]
    )
    if first == _PASSED:
        return sequence, None
    return sequence[: first + 1], sequence[first]


class _Survivor:
    """A candidate that passed every rule, waiting for arbitration."""

    __slots__ = (
        "campaign",
        "channels",
        "chosen",
        "factors",
        "outcome",
        "plan",
        "promoted",
        "verdicts",
    )

    def __init__(
        self,
        campaign: _Campaign,
        plan: OfferPlan,
        verdicts: Verdicts,
        channels: tuple[ChannelTrace, ...],
        chosen: ChannelTrace,
        factors: ScoreFactors,
        promoted: bool,
    ) -> None:
        self.campaign = campaign
        self.plan = plan
        self.verdicts = verdicts
        self.channels = channels
        self.chosen = chosen
        self.factors = factors
        self.promoted = promoted
        self.outcome: Verdict | None = None  # set when arbitration drops it

    def sort_key(self) -> tuple[bool, float, int, str, int]:
        """Hardship-promoted service first, then score, campaign priority, offer code, id."""
        campaign = self.campaign.plan
        return (
            not self.promoted,
            -self.factors.score,
            -campaign.campaign.priority,
            self.plan.code,
            campaign.id,
        )


def _validate(request: DecisionRequest) -> None:
    if request.mode not in MODES:
        raise ValueError(f"unknown decision mode {request.mode!r}")
    require_aware(request.now, "request.now")
    if request.mode == "inbound" and request.channel not in ALL_CHANNELS:
        raise ValueError(f"an inbound decision needs a known channel, got {request.channel!r}")
    if request.max_offers is not None and request.max_offers < 1:
        raise ValueError("max_offers must be at least 1")


def campaigns_for(snapshot: Snapshot, request: DecisionRequest) -> tuple[CampaignPlan, ...]:
    """Campaigns whose trigger (event), channel (inbound) or id (batch) match the request."""
    if request.mode == "batch":
        ids = sorted(request.campaign_ids or ())
        return tuple(snapshot.plans[cid] for cid in ids if cid in snapshot.plans)
    if request.mode == "inbound":
        plans = snapshot.inbound_by_channel.get(request.channel or "", ())
    else:
        plans = snapshot.realtime_by_event.get(request.event_type or "", ())
    if request.campaign_ids is not None:
        plans = tuple(plan for plan in plans if plan.id in request.campaign_ids)
    return plans


class _Scorer:
    """Score factors of one decision: one model evaluation per product."""

    __slots__ = ("cache", "event_type", "snapshot", "state")

    def __init__(self, snapshot: Snapshot, state: CustomerState, event_type: str | None) -> None:
        self.snapshot = snapshot
        self.state = state
        self.event_type = event_type
        self.cache: dict[str, tuple[float, str]] = {}

    def factors(self, plan: OfferPlan) -> ScoreFactors:
        evaluator = self.snapshot.evaluators.get(plan.product_code)
        if evaluator is None:
            propensity, version, source = plan.prior, None, "prior"
        else:
            found = self.cache.get(plan.product_code)
            if found is None:
                state = self.state
                found = self.cache[plan.product_code] = (
                    evaluator.propensity(state.customer, state.held_families),
                    evaluator.spec.version,
                )
            (propensity, version), source = found, "model"
        return ScoreFactors(
            propensity=propensity,
            value=plan.value,
            lever=plan.lever,
            context_weight=context_weight(plan.offer, self.event_type),
            source=source,
            model_version=version,
        )


def _trace(
    campaign: _Campaign,
    plan: OfferPlan,
    verdicts: Verdicts,
    outcome: str,
    channels: tuple[ChannelTrace, ...] = (),
    channel: str | None = None,
    factors: ScoreFactors | None = None,
    promoted: bool = False,
) -> CandidateTrace:
    return CandidateTrace(
        offer_code=plan.code,
        product_code=plan.product_code,
        family=plan.family,
        kind=plan.offer.kind,
        campaign_id=campaign.plan.id,
        campaign_code=campaign.plan.code,
        arm=campaign.arm,
        shadow=campaign.plan.shadow,
        verdicts=verdicts,
        channels=channels,
        outcome=outcome,
        channel=channel,
        factors=factors,
        score=factors.score if factors is not None else None,
        promoted=promoted,
    )


def _suppressed(candidate: CandidateTrace, failed: Verdict) -> Suppressed:
    return Suppressed(
        offer_code=candidate.offer_code,
        campaign_id=candidate.campaign_id,
        campaign_code=candidate.campaign_code,
        channel=failed.detail.get("channel", candidate.channel),
        reason=failed.rule,
        detail=failed.detail,
        shadow=candidate.shadow,
    )


def _evaluate(
    campaign: _Campaign, plan: OfferPlan, memo: _Memo, scorer: _Scorer
) -> tuple[CandidateTrace, Verdict] | _Survivor:
    """Every rule on one candidate: its final trace and the verdict that removed it, or a
    survivor for arbitration."""
    verdicts, failed = _candidate_verdicts(
        memo.customer_group(plan), memo.offer_group(plan), campaign.checks
    )
    if failed is not None:
        return _trace(campaign, plan, verdicts, failed.rule), failed
    if not campaign.channels:
        failed = Verdict(r.NO_CHANNEL, False, {"campaign_channels": []})
        return _trace(campaign, plan, (*verdicts, failed), r.NO_CHANNEL), failed
    traces: list[ChannelTrace] = []
    chosen: ChannelTrace | None = None
    furthest: Verdict | None = None
    state = memo.state
    for channel in campaign.channels:
        group = memo.channel_group(plan, channel)
        if group.failure == len(group.verdicts):
            trace = ChannelTrace(channel, group.verdicts, deferral(channel, state))
            # the first passing channel not in quiet hours, else the first passing one
            if chosen is None or (chosen.deliver_after is not None and trace.deliver_after is None):
                chosen = trace
        else:
            trace = ChannelTrace(channel, group.verdicts[: group.failure + 1])
            channel_failed = group.verdicts[group.failure]
            if (
                furthest is None
                or r.STAGE_INDEX[channel_failed.rule] > r.STAGE_INDEX[furthest.rule]
            ):
                furthest = channel_failed
        traces.append(trace)
    channels = tuple(traces)
    if chosen is None:
        assert furthest is not None
        return _trace(campaign, plan, verdicts, furthest.rule, channels), furthest
    verdicts = (*verdicts, campaign.volume)
    if not campaign.volume.passed:
        candidate = _trace(campaign, plan, verdicts, r.VOLUME_LIMIT, channels, chosen.channel)
        return candidate, campaign.volume
    promoted = bool(plan.relief & state.hardship)
    return _Survivor(campaign, plan, verdicts, channels, chosen, scorer.factors(plan), promoted)


def _arbitrate(survivors: list[_Survivor], max_offers: int, budget: int) -> list[_Survivor]:
    """Top N per channel, one offer per product family, sales within the attention budget."""
    chosen: list[_Survivor] = []
    families: set[str] = set()
    per_channel: dict[str, int] = {}
    for survivor in sorted(survivors, key=_Survivor.sort_key):
        channel = survivor.chosen.channel
        if survivor.plan.family in families:
            survivor.outcome = Verdict(
                r.FAMILY_ALREADY_OFFERED, False, {"family": survivor.plan.family}
            )
        elif per_channel.get(channel, 0) >= max_offers:
            survivor.outcome = Verdict(
                r.MAX_OFFERS_REACHED, False, {"channel": channel, "max_offers": max_offers}
            )
        elif survivor.plan.is_sales and budget <= 0:
            survivor.outcome = Verdict(
                r.FREQUENCY_CAP, False, {"channel": channel, "budget_left": 0}
            )
        else:
            chosen.append(survivor)
            families.add(survivor.plan.family)
            per_channel[channel] = per_channel.get(channel, 0) + 1
            if survivor.plan.is_sales:
                budget -= 1
    return chosen


def _release_notes(
    survivor: _Survivor, verdicts: Verdicts, state: CustomerState
) -> tuple[str, ...]:
    factors = survivor.factors
    notes = [
        f"score {factors.score:.6g} = propensity {factors.propensity:.4f} x value "
        f"{factors.value:g} x lever {factors.lever:g} x context weight {factors.context_weight:g}",
        (
            f"propensity from model {factors.model_version}"
            if factors.source == "model"
            else "propensity from the offer's smoothed acceptance rate (Beta(1, 19) prior)"
        ),
    ]
    if survivor.promoted:
        events = ", ".join(sorted(survivor.plan.relief & state.hardship))
        notes.append(f"service action promoted after hardship event: {events}")
    deliver_after = survivor.chosen.deliver_after
    if deliver_after is not None:
        notes.append(
            f"{r.QUIET_HOURS}: {survivor.chosen.channel} deferred to {deliver_after.isoformat()}"
        )
    if any(v.detail.get("continue_conversation") for v in verdicts):
        notes.append("continue the conversation: the customer clicked this offer elsewhere")
    exempt = [v.rule for v in verdicts if v.exempt and v.detail.get("would_have_blocked")]
    if exempt:
        notes.append(f"service action exempt from: {', '.join(exempt)}")
    if survivor.campaign.held_out:
        notes.append(f"{r.CONTROL_GROUP}: held out, not released")
    return tuple(notes)


def _released(
    survivor: _Survivor, rank: int, state: CustomerState
) -> tuple[ReleasedOffer, Verdicts]:
    plan, campaign, channel = survivor.plan, survivor.campaign, survivor.chosen.channel
    verdicts = (*survivor.verdicts, *survivor.chosen.verdicts)
    offer = ReleasedOffer(
        rank=rank,
        offer_code=plan.code,
        product_code=plan.product_code,
        family=plan.family,
        kind=plan.offer.kind,
        campaign_id=campaign.plan.id,
        campaign_code=campaign.plan.code,
        channel=channel,
        content=plan.offer.contents[channel],
        score=survivor.factors.score,
        factors=survivor.factors,
        reasons=_release_notes(survivor, verdicts, state),
        deliver_after=survivor.chosen.deliver_after,
        arm=campaign.arm,
        shadow=campaign.plan.shadow,
        held_out=campaign.held_out,
    )
    return offer, verdicts


def _outcome(candidates: Sequence[CandidateTrace]) -> str:
    """released, control_group, no_candidates, or the reason of the furthest candidate."""
    if not candidates:
        return r.NO_CANDIDATES
    outcomes = {candidate.outcome for candidate in candidates}
    if r.RELEASED in outcomes:
        return r.RELEASED
    if r.CONTROL_GROUP in outcomes:
        return r.CONTROL_GROUP
    staged = [r.STAGE_INDEX[o] for o in outcomes if o in r.STAGE_INDEX]
    return r.STAGES[max(staged)] if staged else r.NO_CANDIDATES


def decide(snapshot: Snapshot, customer: CustomerContext, request: DecisionRequest) -> Decision:
    """Decide the next best offers for one customer (see the module docstring)."""
    _validate(request)
    state = CustomerState(snapshot, customer, request)
    max_offers = request.max_offers or snapshot.policy.max_offers_default
    memo = _Memo(state, snapshot)
    scorer = _Scorer(snapshot, state, request.event_type)
    customer_id = customer.customer_id

    # candidates: a final trace with the verdict that removed it, or a survivor
    entries: list[tuple[CandidateTrace, Verdict] | _Survivor] = []
    survivors: dict[bool, list[_Survivor]] = {False: [], True: []}  # by shadow
    for plan in campaigns_for(snapshot, request):
        if not plan.arms:
            continue
        arm = pick_arm(plan.id, customer_id, plan.arm_thresholds) if len(plan.arms) > 1 else 0
        campaign = _Campaign(
            plan=plan,
            arm=plan.arms[arm],
            held_out=in_control(plan.id, customer_id, plan.control_threshold),
            channels=(request.channel or "",)
            if request.mode == "inbound"
            else plan.outbound_channels,
            checks=_group(
                memo.rule(plan.campaign.audience, r.NOT_IN_AUDIENCE),
                check_campaign_cap(plan, state),
            ),
            volume=check_volume(plan, request),
        )
        for offer_plan in plan.offers_by_arm[arm]:
            entry = _evaluate(campaign, offer_plan, memo, scorer)
            entries.append(entry)
            if isinstance(entry, _Survivor):
                survivors[plan.shadow].append(entry)

    released: list[ReleasedOffer] = []
    held_out: list[ReleasedOffer] = []
    shadow: list[ReleasedOffer] = []
    exemptions: list[Exemption] = []
    for is_shadow in (False, True):
        for rank, survivor in enumerate(
            _arbitrate(survivors[is_shadow], max_offers, state.budget), 1
        ):
            offer, verdicts = _released(survivor, rank, state)
            if is_shadow:
                shadow.append(offer)
            elif survivor.campaign.held_out:
                held_out.append(offer)
            else:
                released.append(replace(offer, rank=len(released) + 1))
                exemptions.extend(
                    Exemption(
                        offer_code=offer.offer_code,
                        campaign_id=offer.campaign_id,
                        channel=offer.channel,
                        rule=verdict.rule,
                        would_have_blocked=bool(verdict.detail.get("would_have_blocked")),
                        detail=verdict.detail,
                    )
                    for verdict in verdicts
                    if verdict.exempt
                )

    candidates: list[CandidateTrace] = []
    suppressed: list[Suppressed] = []
    for entry in entries:
        if isinstance(entry, _Survivor):
            failed = entry.outcome
            if failed is None and entry.campaign.held_out:
                pct = entry.campaign.plan.campaign.control_group_pct
                failed = Verdict(r.CONTROL_GROUP, False, {"control_group_pct": pct})
            outcome = failed.rule if failed is not None else r.RELEASED
            candidate = _trace(
                entry.campaign,
                entry.plan,
                entry.verdicts,
                outcome,
                entry.channels,
                entry.chosen.channel,
                entry.factors,
                entry.promoted,
            )
        else:
            candidate, failed = entry
        candidates.append(candidate)
        if failed is not None and not candidate.shadow:
            suppressed.append(_suppressed(candidate, failed))

    live = [c for c in candidates if not c.shadow]
    shadow_candidates = [c for c in candidates if c.shadow]
    model_versions = {
        c.product_code: c.factors.model_version
        for c in candidates
        if c.factors is not None and c.factors.model_version is not None
    }
    return Decision(
        customer_id=customer_id,
        external_id=customer.external_id,
        mode=request.mode,
        channel=request.channel,
        event_type=request.event_type,
        event_id=request.event_id,
        decided_at=request.now,
        offers=tuple(released),
        suppressed=tuple(suppressed),
        control_group=bool(held_out),
        would_have_offered=tuple(held_out),
        shadow=tuple(shadow),
        candidates=tuple(candidates),
        exemptions=tuple(exemptions),
        outcome=_outcome(live),
        shadow_outcome=_outcome(shadow_candidates) if shadow_candidates else None,
        hardship_events=tuple(sorted(state.hardship)),
        policy_version=snapshot.policy.version,
        snapshot_version=snapshot.version,
        model_versions=dict(sorted(model_versions.items())),
        policy=policy_summary(snapshot.policy),
    )
