"""``decide(snapshot, customer, request) -> Decision``: one customer, one signal.

candidates -> eligibility -> contact policy & suppression -> scoring -> arbitration and
channel choice -> control group -> Decision. The function is pure and deterministic:
the same snapshot, customer and request give the same decision.

Each rule is a function in ``policy``, registered there with the part of a candidate it
reads (``policy.CHECKS``): the customer and whether the offer is sales (consent flags,
fatigue, caps), the offer (validity, eligibility, family, decline...), the campaign
(audience, cap), the candidate's channel list or one channel. So the verdicts are
computed in groups, once per decision for each part, and a candidate's verdict sequence
(``reasons.CANDIDATE_STAGES`` order) is assembled from the groups with its first failure
found by index, not by re-running anything. The groups and the assembly are derived from
the registry once, at import (``wire``): no rule is wired by hand here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
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
from .pages import page_path
from .policy import (
    CAMPAIGN,
    CANDIDATE_GROUPS,
    CHANNEL,
    CHANNEL_LIST,
    CHECKS,
    CUSTOMER,
    OFFER,
    Check,
    CustomerState,
    Verdict,
    check_volume,
    deferral,
    policy_summary,
)
from .scoring import ScoreFactors, context_factor, explored, explores, thompson_draw
from .sendtime import owed_plan, recheck_state
from .snapshot import CampaignPlan, OfferPlan, Snapshot
from .timeutil import require_aware, to_us
from .triggers import fires
from .types import MODES, CustomerContext, DecisionRequest

Verdicts = tuple[Verdict, ...]


class _Group(NamedTuple):
    """Verdicts of one part of a candidate, and where its first failure sits: the index in
    ``reasons.CANDIDATE_STAGES`` (candidate groups) or in the group (channel groups), or
    the ``passed`` position after the last stage."""

    verdicts: Verdicts
    failure: int


class _Wiring(NamedTuple):
    """How ``decide`` calls the registered checks (``policy.CHECKS``), derived once."""

    groups: dict[str, tuple[Check, ...]]  # per group, its checks in stage order
    at: dict[str, tuple[int, ...]]  # per candidate group: its checks' stage indices, passed
    # the verdicts of the candidate groups concatenated in CANDIDATE_GROUPS order
    # (customer + offer + campaign, as _Memo and _candidate_verdicts join them) -> stage order
    order: Callable[[Verdicts], Verdicts]
    passed: int  # len(candidate_stages)


def _permutation(order: Sequence[int]) -> Callable[[Verdicts], Verdicts]:
    if len(order) == 1:
        (only,) = order
        return lambda verdicts: (verdicts[only],)
    return itemgetter(*order)  # a tuple for 2+ indices


def wire(
    checks: Mapping[str, Check] = CHECKS,
    candidate_stages: Sequence[str] = r.CANDIDATE_STAGES,
    channel_stages: Sequence[str] = r.CHANNEL_STAGES,
) -> _Wiring:
    """The memo groups and the candidate sequence, from the registry in stage order.

    Raises ``LookupError`` when a stage has no registered check, or a check sits in a
    group its stage cannot use.
    """
    allowed = {
        **{stage: CANDIDATE_GROUPS for stage in candidate_stages},
        **{stage: (CHANNEL_LIST, CHANNEL) for stage in channel_stages},
    }
    groups: dict[str, list[Check]] = {group: [] for group in (*CANDIDATE_GROUPS, CHANNEL_LIST)}
    groups[CHANNEL] = []
    for stage in (*candidate_stages, *channel_stages):
        check = checks.get(stage)
        if check is None:
            raise LookupError(
                f"stage {stage!r} (reasons.py) has no scalar check: register one in policy.py "
                f"with @customer_check, @offer_check, @campaign_check, @channel_list_check or "
                f"@channel_check"
            )
        if check.group not in allowed[stage]:
            raise LookupError(
                f"stage {stage!r}: a {check.group} check cannot decide it (allowed: "
                f"{', '.join(allowed[stage])})"
            )
        groups[check.group].append(check)
    extra = sorted(set(checks) - set(allowed))
    if extra:
        raise LookupError(
            f"checks registered for stages outside CANDIDATE_STAGES and CHANNEL_STAGES: {extra}"
        )
    channel_list = [c.stage for c in groups[CHANNEL_LIST]]
    if list(channel_stages[: len(channel_list)]) != channel_list:
        raise LookupError(
            f"channel list checks {channel_list} must come first in reasons.CHANNEL_STAGES"
        )
    index = {stage: i for i, stage in enumerate(candidate_stages)}
    passed = len(candidate_stages)
    at = {group: (*(index[c.stage] for c in groups[group]), passed) for group in CANDIDATE_GROUPS}
    concatenated = [c.stage for group in CANDIDATE_GROUPS for c in groups[group]]
    return _Wiring(
        groups={group: tuple(found) for group, found in groups.items()},
        at=at,
        order=_permutation([concatenated.index(stage) for stage in candidate_stages]),
        passed=passed,
    )


_WIRING = wire()
_CUSTOMER_CHECKS = _WIRING.groups[CUSTOMER]
_OFFER_CHECKS = _WIRING.groups[OFFER]
_CAMPAIGN_CHECKS = _WIRING.groups[CAMPAIGN]
_CHANNEL_LIST_CHECKS = _WIRING.groups[CHANNEL_LIST]
_CHANNEL_CHECKS = _WIRING.groups[CHANNEL]
_CUSTOMER_AT, _OFFER_AT, _CAMPAIGN_AT = (_WIRING.at[group] for group in CANDIDATE_GROUPS)
_ORDER = _WIRING.order
_PASSED = _WIRING.passed


@dataclass(frozen=True, slots=True)
class _Campaign:
    """One campaign in one decision: the arm, the holdout and its shared verdicts."""

    plan: CampaignPlan
    arm: str
    held_out: bool
    channels: tuple[str, ...]
    checks: _Group  # the campaign group
    channel_list: Check | None  # the first channel list check that fails, if any
    volume: Verdict


# A group's runnable checks for one decision: (check, sharing key, verdict cache or None).
_Bound = tuple[tuple[Callable[..., Verdict], Callable[..., Hashable] | None, Any], ...]


def _template(checks: tuple[Check, ...]) -> tuple[tuple[Any, ...], ...]:
    """(check, sharing key, stage, static) per check, for ``_Memo`` to bind its caches."""
    return tuple((c.run, c.share, c.stage, c.static) for c in checks)


def _bind(template: tuple[tuple[Any, ...], ...], static: dict[Any, Any]) -> _Bound:
    """A group's checks with their caches for one decision: a fresh dict per shared check,
    the snapshot's for static ones, ``None`` for unshared ones."""
    return tuple(
        [
            (
                run,
                share,
                None if share is None else static.setdefault(stage, {}) if is_static else {},
            )
            for run, share, stage, is_static in template
        ]
    )


_TEMPLATES = tuple(
    _template(checks)
    for checks in (_CUSTOMER_CHECKS, _OFFER_CHECKS, _CAMPAIGN_CHECKS, _CHANNEL_CHECKS)
)


class _Memo:
    """The verdict groups of one decision, each computed once.

    A group's key names everything its verdicts (details included) depend on besides the
    customer: the offer kind (customer group), the offer code (offer group; an offer code
    fixes its kind, so the customer and offer groups of a code are kept joined), the offer
    code and channel (channel group). Within a group, a check with a sharing key
    (``policy.Check``) shares one verdict with every group of the decision with the same
    key; static checks keep theirs on the snapshot for every decision. Shared verdicts are
    the same object, which the ledger's verdict table (``Decision.to_dict``) records once.

    The loops below are the hot path of ``decide`` (one pass per offer code and per
    (offer code, channel)), written out rather than factored into helpers.
    """

    __slots__ = (
        "campaign_checks",
        "channel_checks",
        "customer",
        "customer_checks",
        "offer_checks",
        "parts",
        "state",
    )

    def __init__(self, state: CustomerState, snapshot: Snapshot) -> None:
        self.state = state
        self.customer: dict[bool, _Group] = {}
        self.parts: dict[Any, _Group] = {}  # offer code -> customer + offer; (code, channel)
        static = snapshot.static_verdicts
        bound = [_bind(template, static) for template in _TEMPLATES]
        self.customer_checks, self.offer_checks, self.campaign_checks, self.channel_checks = bound

    def candidate_part(self, plan: OfferPlan) -> _Group:
        """The customer and offer groups of ``plan`` joined (customer verdicts first), with
        the first failure of either (its index in ``reasons.CANDIDATE_STAGES``)."""
        part = self.parts.get(plan.code)
        if part is not None:
            return part
        state = self.state
        customer = self.customer.get(plan.is_sales)
        if customer is None:
            customer = self.customer[plan.is_sales] = _group(
                _verdicts(self.customer_checks, plan, state), _CUSTOMER_AT
            )
        # a cached verdict, else the check's (a Verdict is a non-empty tuple: truthy)
        verdicts = tuple(
            [
                run(plan, state)
                if share is None
                else cache.get(key := share(plan, state)) or cache.setdefault(key, run(plan, state))
                for run, share, cache in self.offer_checks
            ]
        )
        failure = customer.failure
        for index, verdict in enumerate(verdicts):
            if not verdict.passed:
                at = _OFFER_AT[index]
                if at < failure:
                    failure = at
                break
        part = self.parts[plan.code] = _Group(customer.verdicts + verdicts, failure)
        return part

    def campaign_group(self, plan: CampaignPlan) -> _Group:
        return _group(_verdicts(self.campaign_checks, plan, self.state), _CAMPAIGN_AT)

    def channel_group(self, plan: OfferPlan, channel: str) -> _Group:
        """The per-channel rules of ``reasons.CHANNEL_STAGES``, in order; the failure is
        the index of the first failed verdict in the group (or its length)."""
        key = (plan.code, channel)
        group = self.parts.get(key)
        if group is not None:
            return group
        state = self.state
        verdicts = tuple(
            [
                run(plan, channel, state)
                if share is None
                else cache.get(shared := share(plan, channel, state))
                or cache.setdefault(shared, run(plan, channel, state))
                for run, share, cache in self.channel_checks
            ]
        )
        for index, verdict in enumerate(verdicts):
            if not verdict.passed:
                group = self.parts[key] = _Group(verdicts, index)
                return group
        group = self.parts[key] = _Group(verdicts, len(verdicts))
        return group


def _verdicts(checks: _Bound, subject: Any, state: CustomerState) -> Verdicts:
    """The verdicts of a customer or campaign group (see ``_Memo.candidate_part``)."""
    return tuple(
        [
            run(subject, state)
            if share is None
            else cache.get(key := share(subject, state))
            or cache.setdefault(key, run(subject, state))
            for run, share, cache in checks
        ]
    )


def _group(verdicts: Verdicts, at: tuple[int, ...]) -> _Group:
    for index, verdict in enumerate(verdicts):
        if not verdict.passed:
            return _Group(verdicts, at[index])
    return _Group(verdicts, at[-1])


def _candidate_verdicts(part: _Group, campaign: _Group) -> tuple[Verdicts, Verdict | None]:
    """The CANDIDATE_STAGES sequence up to and including its first failure."""
    sequence = _ORDER(part.verdicts + campaign.verdicts)
    first = part.failure if part.failure < campaign.failure else campaign.failure
    if first == _PASSED:
        return sequence, None
    return sequence[: first + 1], sequence[first]


def _channel_list(channels: tuple[str, ...]) -> Check | None:
    """The first channel list check that fails on ``channels``, if any. Its verdict is not
    shared: each candidate records its own (``_evaluate``), a verdict of its own in the
    ledger's verdict table."""
    for check in _CHANNEL_LIST_CHECKS:
        if not check.run(channels).passed:
            return check
    return None


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
    if request.event is not None:
        # a trigger reads the signal: its age, page and payload (``triggers``)
        plans = tuple(plan for plan in plans if fires(plan.campaign, request))
    return plans


class _Scorer:
    """Score factors of one decision: one model evaluation per product."""

    __slots__ = ("cache", "event_type", "now_us", "page", "snapshot", "state")

    def __init__(self, snapshot: Snapshot, state: CustomerState, request: DecisionRequest) -> None:
        self.snapshot = snapshot
        self.state = state
        self.now_us = to_us(request.now)
        self.event_type = request.event_type
        self.page = page_path(request.page)
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
                    evaluator.propensity(state.customer, state.held_families, self.now_us),
                    evaluator.spec.version,
                )
            (propensity, version), source = found, "model"
        weight, context = context_factor(plan.offer, self.event_type, self.page)
        factors = ScoreFactors(
            propensity=propensity,
            value=plan.value,
            lever=plan.lever,
            context_weight=weight,
            source=source,
            model_version=version,
            context=context,
        )
        if explores(plan.offer):
            # cold start: a Thompson draw in a share of decisions (scoring.Exploration)
            draw = thompson_draw(plan.offer, self.state.customer.customer_id, self.now_us)
            if draw is not None:
                return explored(factors, plan.offer, draw)
        return factors


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
    verdicts, failed = _candidate_verdicts(memo.candidate_part(plan), campaign.checks)
    if failed is not None:
        return _trace(campaign, plan, verdicts, failed.rule), failed
    if campaign.channel_list is not None:
        failed = campaign.channel_list.run(campaign.channels)
        return _trace(campaign, plan, (*verdicts, failed), failed.rule), failed
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
    # One verdict per distinct refusal, shared by every candidate it removes: the stored
    # explanation keeps each verdict object once (``CompactTable``).
    refusals: dict[tuple[str, str], Verdict] = {}

    def refusal(rule: str, subject: str, detail: dict[str, Any]) -> Verdict:
        verdict = refusals.get((rule, subject))
        if verdict is None:
            verdict = refusals[(rule, subject)] = Verdict(rule, False, detail)
        return verdict

    for survivor in sorted(survivors, key=_Survivor.sort_key):
        channel = survivor.chosen.channel
        family = survivor.plan.family
        if family in families:
            survivor.outcome = refusal(r.FAMILY_ALREADY_OFFERED, family, {"family": family})
        elif per_channel.get(channel, 0) >= max_offers:
            survivor.outcome = refusal(
                r.MAX_OFFERS_REACHED, channel, {"channel": channel, "max_offers": max_offers}
            )
        elif survivor.plan.is_sales and budget <= 0:
            survivor.outcome = refusal(
                r.FREQUENCY_CAP, channel, {"channel": channel, "budget_left": 0}
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
            else f"propensity explored: a Thompson draw {factors.sampled:.4f} from "
            f"{factors.posterior} (the offer has little history)"
            if factors.source == "exploration"
            else "propensity from the offer's smoothed acceptance rate (Beta(1, 19) prior)"
        ),
    ]
    if factors.context is not None:
        notes.append(f"context weight {factors.context_weight:g} from {factors.context}")
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


OWED_NOTE = "owed service action: no outbound channel could reach the customer"


def _owed(
    snapshot: Snapshot,
    customer: CustomerContext,
    request: DecisionRequest,
    state: CustomerState,
    scorer: _Scorer,
    released: list[ReleasedOffer],
) -> tuple[str, ...]:
    """Service actions owed to a customer present inbound: each released (appended to
    ``released``) when the send-time rulebook lets it out on this channel."""
    if request.mode != "inbound" or not customer.owed:
        return ()
    channel = request.channel or ""
    shown: list[str] = []
    offered = {offer.offer_code for offer in released}
    for owed in customer.owed:
        if owed.offer_code in offered:
            shown.append(owed.ref)
            continue
        verdict = recheck_state(
            snapshot,
            state,
            campaign_id=owed.campaign_id,
            offer_code=owed.offer_code,
            channel=channel,
        )
        plan = owed_plan(snapshot, owed.campaign_id, owed.offer_code)
        if not verdict.leases or plan is None:
            continue
        campaign = snapshot.plans[owed.campaign_id]
        factors = scorer.factors(plan)
        notes = [OWED_NOTE]
        if verdict.exempt:
            notes.append(f"service action exempt from: {', '.join(verdict.exempt)}")
        released.append(
            ReleasedOffer(
                rank=len(released) + 1,
                offer_code=plan.code,
                product_code=plan.product_code,
                family=plan.family,
                kind=plan.offer.kind,
                campaign_id=campaign.id,
                campaign_code=campaign.code,
                channel=channel,
                content=plan.offer.contents[channel],
                score=factors.score,
                factors=factors,
                reasons=tuple(notes),
                arm=plan.entry.arm,
            )
        )
        offered.add(plan.code)
        shown.append(owed.ref)
    return tuple(shown)


def decide(snapshot: Snapshot, customer: CustomerContext, request: DecisionRequest) -> Decision:
    """Decide the next best offers for one customer (see the module docstring)."""
    _validate(request)
    state = CustomerState(snapshot, customer, request)
    max_offers = request.max_offers or snapshot.policy.max_offers_default
    memo = _Memo(state, snapshot)
    scorer = _Scorer(snapshot, state, request)
    customer_id = customer.customer_id

    # candidates: a final trace with the verdict that removed it, or a survivor
    entries: list[tuple[CandidateTrace, Verdict] | _Survivor] = []
    survivors: dict[bool, list[_Survivor]] = {False: [], True: []}  # by shadow
    for plan in campaigns_for(snapshot, request):
        if not plan.arms:
            continue
        arm = pick_arm(plan.id, customer_id, plan.arm_thresholds) if len(plan.arms) > 1 else 0
        channels = (request.channel or "",) if request.mode == "inbound" else plan.outbound_channels
        campaign = _Campaign(
            plan=plan,
            arm=plan.arms[arm],
            held_out=in_control(plan.id, customer_id, plan.control_threshold),
            channels=channels,
            checks=memo.campaign_group(plan),
            channel_list=_channel_list(channels),
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

    owed_shown = _owed(snapshot, customer, request, state, scorer, released)

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
        owed_shown=owed_shown,
    )
