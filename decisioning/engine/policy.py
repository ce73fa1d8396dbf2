"""The rules every release must keep (DESIGN.md 1-3, 7, 8), one small function each.

Each check returns a ``Verdict``: the reason code it stands for, whether the candidate
passed, and the values it saw. ``CustomerState`` reads the customer's history once per
decision (caps, fatigue, declines, presentations, suppressions, hardship).

Windows: an event counts in a window of N days when it happened strictly after
``now - N days``. Caps are rolling: at most ``daily_cap`` sales releases in any 24 h and
``weekly_cap`` in any 7 x 24 h, on every channel together (inbound included).

Service actions (``kind == "service"``) are exempt from the marketing rules: channel
consent, global opt-out, do-not-contact, the held-family rule, hardship protection
(which protects from sales), decline cooldown, fatigue, frequency caps and
presented-elsewhere. Each exemption is returned as a passed verdict marked
``exempt=True`` (with ``would_have_blocked``) so the decision lists it for audit.
Service actions still need: a customer who is not erased, an active offer with approved
content, the audience and eligibility rules, suppression entries, quiet hours for push
and SMS, the offer's own cooldown and the campaign's caps and volume.

The checks of ``reasons.CANDIDATE_STAGES`` and ``reasons.CHANNEL_STAGES`` are registered
in ``CHECKS`` by the decorator above each one (``customer_check``, ``offer_check``,
``campaign_check``, ``channel_list_check``, ``channel_check``). The decorator names the
part of the candidate the check reads (its memo group in ``decide``) and, optionally,
the sharing key under which one verdict serves every candidate with the same key;
``decide`` wires its groups and each candidate's verdict sequence from this registry, so
a new rule needs no code there.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from core.channels import CONTACT_FIELD, EXPLICIT_CONSENT, OUTBOUND

from . import reasons as r
from .rules import Rule
from .snapshot import CampaignPlan, OfferPlan, Snapshot
from .timeutil import quiet_hours, to_us, zone
from .types import (
    ACTIVE,
    ENGAGED_OUTCOMES,
    OUTCOME_DECLINE,
    SALES,
    CustomerContext,
    DecisionRequest,
    OfferSpec,
    PolicySpec,
    SuppressionSpec,
)

DAY = timedelta(days=1)
WEEK = timedelta(days=7)


class Verdict(NamedTuple):
    """One rule's verdict on a candidate, with the values it saw.

    Verdicts, traces and score factors are NamedTuples: as immutable as a frozen
    dataclass and several times cheaper to build, which matters because a decision over
    50 offers builds hundreds of them.
    """

    rule: str  # the reason code the rule gives when it fails
    passed: bool
    detail: Mapping[str, Any]
    exempt: bool = False  # passed only because the offer is a service action

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "passed": self.passed,
            "detail": json_safe(self.detail),
        }
        if self.exempt:
            data["exempt"] = True
        return data


_PLAIN = (str, int, float, bool, type(None))


def json_safe(value: Any) -> Any:
    """Details keep raw values (datetimes, sets); the ledger gets JSON types."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {str(k): v if isinstance(v, _PLAIN) else json_safe(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(json_safe(v) for v in value)
    if isinstance(value, Mapping):
        return json_safe(dict(value))
    return value


def _exempt(rule: str, would_block: bool, detail: dict[str, Any]) -> Verdict:
    detail["exempt"] = "service"
    detail["would_have_blocked"] = would_block
    return Verdict(rule, True, detail, exempt=True)


class CustomerState:
    """What one decision needs from the customer's history, read in a single pass."""

    __slots__ = (
        "budget",
        "campaign_releases",
        "customer",
        "daily_used",
        "declined",
        "engaged_offers",
        "fatigue_until",
        "hardship",
        "held_families",
        "ignored_in_row",
        "last_by_offer_channel",
        "now",
        "policy",
        "presented",
        "quiet_until",
        "suppress_all",
        "suppressions",
        "weekly_used",
    )

    def __init__(self, snapshot: Snapshot, customer: CustomerContext, request: DecisionRequest):
        policy = snapshot.policy
        now = request.now
        self.customer = customer
        self.now = now
        self.policy = policy
        self.held_families = snapshot.held_families(customer.holdings)
        tz = zone(customer.time_zone, policy.default_time_zone)
        self.quiet_until = quiet_hours(now, tz, policy.quiet_start, policy.quiet_end)

        day_start, week_start = now - DAY, now - WEEK
        decline_start = now - timedelta(days=policy.decline_cooldown_days)
        elsewhere_start = now - timedelta(days=policy.presented_elsewhere_days)
        daily = weekly = 0
        last_engaged: datetime | None = None
        declined: dict[str, datetime] = {}
        last_by_offer_channel: dict[tuple[str, str], datetime] = {}
        presented: dict[str, dict[str, datetime]] = {}
        engaged: set[str] = set()
        campaign_releases: dict[int, int] = {}
        sales_times: list[tuple[datetime, bool]] = []
        for record in customer.contact_history:
            released = record.released_at
            is_engaged = record.outcome in ENGAGED_OUTCOMES
            if record.kind == SALES:
                if released > day_start:
                    daily += 1
                if released > week_start:
                    weekly += 1
                sales_times.append((released, is_engaged))
                if is_engaged and (last_engaged is None or released > last_engaged):
                    last_engaged = released
            if record.outcome == OUTCOME_DECLINE:
                declined_at = record.outcome_at or released
                if declined_at > decline_start:
                    previous = declined.get(record.product_code)
                    if previous is None or declined_at > previous:
                        declined[record.product_code] = declined_at
            key = (record.offer_code, record.channel)
            previous = last_by_offer_channel.get(key)
            if previous is None or released > previous:
                last_by_offer_channel[key] = released
            if released > elsewhere_start:
                channels = presented.setdefault(record.offer_code, {})
                if record.channel not in channels or released > channels[record.channel]:
                    channels[record.channel] = released
                if is_engaged:
                    engaged.add(record.offer_code)
            if record.campaign_id is not None:
                campaign_releases[record.campaign_id] = (
                    campaign_releases.get(record.campaign_id, 0) + 1
                )
        self.daily_used = daily
        self.weekly_used = weekly
        self.budget = max(0, min(policy.daily_cap - daily, policy.weekly_cap - weekly))
        ignored = [
            at
            for at, is_engaged in sales_times
            if not is_engaged and (last_engaged is None or at > last_engaged)
        ]
        self.ignored_in_row = len(ignored)
        self.fatigue_until: datetime | None = None
        if policy.fatigue_ignored_in_row > 0 and len(ignored) >= policy.fatigue_ignored_in_row:
            until = max(ignored) + timedelta(days=policy.fatigue_backoff_days)
            if until > now:
                self.fatigue_until = until
        self.declined = declined
        self.last_by_offer_channel = last_by_offer_channel
        self.presented = presented
        self.engaged_offers = engaged
        self.campaign_releases = campaign_releases

        self.suppress_all: SuppressionSpec | None = None
        self.suppressions: dict[tuple[str, str], SuppressionSpec] = {}
        for entry in customer.suppressions:
            if entry.until is not None and entry.until <= now:
                continue
            if entry.scope == "all":
                self.suppress_all = self.suppress_all or entry
            else:
                self.suppressions.setdefault((entry.scope, entry.value), entry)

        hardship_start = now - timedelta(days=policy.hardship_days)
        hardship = {
            event.type
            for event in customer.recent_events
            if event.type in policy.hardship_event_types and event.occurred_at > hardship_start
        }
        if (
            request.mode in ("event", "absence")
            and request.event_type in policy.hardship_event_types
        ):
            hardship.add(request.event_type)
        self.hardship = frozenset(hardship)


# --- the registry of checks ------------------------------------------------------------------

# The part of a candidate a check reads: its memo group in ``decide``, and its signature.
CUSTOMER = "customer"  # (plan, state): the customer, and of the offer only ``plan.is_sales``;
# one group per decision and offer kind
OFFER = "offer"  # (plan, state): the offer; one group per offer code
CAMPAIGN = "campaign"  # (campaign, state): the campaign; one group per campaign
CHANNEL_LIST = "channel_list"  # (channels,): the candidate's channels, once per campaign;
# recorded only when it fails, before any channel is checked
CHANNEL = "channel"  # (plan, channel, state): one channel; one group per (offer code, channel)
CANDIDATE_GROUPS: tuple[str, ...] = (CUSTOMER, OFFER, CAMPAIGN)  # reasons.CANDIDATE_STAGES
CHANNEL_GROUPS: tuple[str, ...] = (CHANNEL_LIST, CHANNEL)  # reasons.CHANNEL_STAGES


class Check(NamedTuple):
    """One registered check: the stage (reason code) it decides, and how ``decide`` calls it.

    ``share`` takes the check's own arguments and returns the key under which one verdict
    serves every group with the same key (it must name everything the verdict, detail
    included, depends on besides the customer); ``None``: computed once per group.
    ``static``: the verdict depends on the snapshot alone (never on ``state``) and is kept
    on the snapshot for every decision.
    """

    stage: str
    group: str
    run: Callable[..., Verdict]
    share: Callable[..., Hashable] | None = None
    static: bool = False


CHECKS: dict[str, Check] = {}

PlanCheck = Callable[[OfferPlan, CustomerState], Verdict]
PlanKey = Callable[[OfferPlan, CustomerState], Hashable]
CampaignCheck = Callable[[CampaignPlan, CustomerState], Verdict]
CampaignKey = Callable[[CampaignPlan, CustomerState], Hashable]
ChannelListCheck = Callable[[tuple[str, ...]], Verdict]
ChannelCheck = Callable[[OfferPlan, str, CustomerState], Verdict]
ChannelKey = Callable[[OfferPlan, str, CustomerState], Hashable]
_F = TypeVar("_F", bound=Callable[..., Verdict])


def _register(
    stage: str, group: str, share: Callable[..., Hashable] | None = None, static: bool = False
) -> Callable[[_F], _F]:
    if stage not in r.STAGE_INDEX:
        raise ValueError(f"check for {stage!r}: not a stage of reasons.STAGES")
    if static and share is None:
        raise ValueError(f"check for {stage!r}: a static check needs a sharing key")

    def register(run: _F) -> _F:
        if stage in CHECKS:
            raise ValueError(
                f"two scalar checks for {stage!r}: {CHECKS[stage].run.__name__} and {run.__name__}"
            )
        CHECKS[stage] = Check(stage, group, run, share, static)
        return run

    return register


def customer_check(stage: str) -> Callable[[PlanCheck], PlanCheck]:
    """Register a check of the customer (and whether the offer is sales)."""
    return _register(stage, CUSTOMER)


def offer_check(stage: str, share: PlanKey | None = None) -> Callable[[PlanCheck], PlanCheck]:
    """Register a check of the offer; ``share``: see ``Check``."""
    return _register(stage, OFFER, share)


def campaign_check(
    stage: str, share: CampaignKey | None = None
) -> Callable[[CampaignCheck], CampaignCheck]:
    """Register a check of the campaign; ``share``: see ``Check``."""
    return _register(stage, CAMPAIGN, share)


def channel_list_check(stage: str) -> Callable[[ChannelListCheck], ChannelListCheck]:
    """Register a check of the candidate's channel list (before any channel is checked)."""
    return _register(stage, CHANNEL_LIST)


def channel_check(
    stage: str, share: ChannelKey | None = None, *, static: bool = False
) -> Callable[[ChannelCheck], ChannelCheck]:
    """Register a check of one of the candidate's channels; ``share``, ``static``: see
    ``Check``."""
    return _register(stage, CHANNEL, share, static)


def _suppression_detail(entry: SuppressionSpec) -> dict[str, Any]:
    return {
        "scope": entry.scope,
        "value": entry.value,
        "until": entry.until,
        "reason": entry.reason,
    }


# --- customer and candidate rules ------------------------------------------------------------


@customer_check(r.ERASED)
def check_erased(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 1: nothing, not even a service action, reaches an erased customer."""
    return Verdict(r.ERASED, not state.customer.erased, {"erased": state.customer.erased})


def offer_is_active(offer: OfferSpec, now: datetime) -> bool:
    """Rule 2: only active offers inside their validity window."""
    return (
        offer.status == ACTIVE
        and (offer.valid_from is None or offer.valid_from <= now)
        and (offer.valid_until is None or now < offer.valid_until)
    )


@offer_check(
    r.OFFER_NOT_ACTIVE,
    share=lambda plan, state: (plan.offer.status, plan.offer.valid_from, plan.offer.valid_until),
)
def check_offer_active(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 2: only active offers inside their validity window."""
    offer = plan.offer
    return Verdict(
        r.OFFER_NOT_ACTIVE,
        offer_is_active(offer, state.now),
        {
            "status": offer.status,
            "valid_from": offer.valid_from,
            "valid_until": offer.valid_until,
        },
    )


def _rule_values(
    rule: Rule, customer: CustomerContext, held_families: frozenset[str], seen: Mapping[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in sorted(rule.fields()):
        if name.startswith("attributes."):
            values[name] = customer.attributes.get(name[len("attributes.") :])
        else:
            values[name] = getattr(customer, name)
    products = rule.products_referenced()
    if products:
        values["holds"] = sorted(products & customer.holdings)
    if rule.families_referenced():
        values["held_families"] = sorted(held_families)
    if seen:
        # likelihood("P"): the propensity, band and model (or prior) the term read
        values["likelihood"] = {p: None if s is None else s.to_dict() for p, s in seen.items()}
    return values


def check_rule(rule: Rule, reason: str, state: CustomerState) -> Verdict:
    """A marketer's rule (campaign audience or offer eligibility) with the values it read."""
    if rule.always_true:
        return Verdict(reason, True, {"rule": ""})
    # a likelihood term's model reads the engagement history as of the decision's clock
    now_us = to_us(state.now) if rule.likelihood_products() else None
    passed, seen = rule.explain(state.customer, state.held_families, now_us)
    values = _rule_values(rule, state.customer, state.held_families, seen)
    return Verdict(reason, passed, {"rule": rule.to_text(), "values": values})


# equal rules are one instance (``build_snapshot``), so one verdict serves every offer or
# campaign using that rule text
@campaign_check(r.NOT_IN_AUDIENCE, share=lambda campaign, state: id(campaign.campaign.audience))
def check_audience(campaign: CampaignPlan, state: CustomerState) -> Verdict:
    """The campaign's audience rule."""
    return check_rule(campaign.campaign.audience, r.NOT_IN_AUDIENCE, state)


@offer_check(r.INELIGIBLE, share=lambda plan, state: id(plan.offer.eligibility))
def check_eligibility(plan: OfferPlan, state: CustomerState) -> Verdict:
    """The offer's eligibility rule."""
    return check_rule(plan.offer.eligibility, r.INELIGIBLE, state)


@offer_check(r.HOLDS_PRODUCT, share=lambda plan, state: (plan.family, plan.is_sales))
def check_holds_product(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 3: a held product's family is never offered."""
    held = plan.family in state.held_families
    detail: dict[str, Any] = {"family": plan.family, "held_families": state.held_families}
    if not plan.is_sales:
        return _exempt(r.HOLDS_PRODUCT, held, detail)
    return Verdict(r.HOLDS_PRODUCT, not held, detail)


@offer_check(r.HARDSHIP_PROTECTION, share=lambda plan, state: (plan.is_sales, plan.is_credit))
def check_hardship(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 8: a recent hardship event suppresses sales offers of credit products."""
    blocked = bool(state.hardship) and plan.is_credit
    detail: dict[str, Any] = {
        "hardship_events": state.hardship,
        "credit_product": plan.is_credit,
        "days": state.policy.hardship_days,
    }
    if not plan.is_sales:
        return _exempt(r.HARDSHIP_PROTECTION, blocked, detail)
    return Verdict(r.HARDSHIP_PROTECTION, not blocked, detail)


@customer_check(r.DO_NOT_CONTACT)
def check_do_not_contact(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 1: do-not-contact blocks all marketing on every channel."""
    flagged = state.customer.do_not_contact
    if not plan.is_sales:
        return _exempt(r.DO_NOT_CONTACT, flagged, {"do_not_contact": flagged})
    return Verdict(r.DO_NOT_CONTACT, not flagged, {"do_not_contact": flagged})


@customer_check(r.GLOBAL_OPT_OUT)
def check_global_opt_out(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 1: the global marketing opt-out blocks all marketing on every channel."""
    flagged = state.customer.global_opt_out
    if not plan.is_sales:
        return _exempt(r.GLOBAL_OPT_OUT, flagged, {"global_opt_out": flagged})
    return Verdict(r.GLOBAL_OPT_OUT, not flagged, {"global_opt_out": flagged})


def _suppression_key(plan: OfferPlan, state: CustomerState) -> str:
    """A customer without suppression entries gets one verdict for every offer."""
    suppressed = state.suppress_all is not None or bool(state.suppressions)
    return plan.code if suppressed else ""


@offer_check(r.SUPPRESSED, share=_suppression_key)
def check_suppression(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Suppression entries of scope all, family, product or offer (any kind of offer)."""
    entry = state.suppress_all
    if entry is None:
        for key in (("offer", plan.code), ("product", plan.product_code), ("family", plan.family)):
            entry = state.suppressions.get(key)
            if entry is not None:
                break
    if entry is None:
        return Verdict(r.SUPPRESSED, True, {})
    return Verdict(r.SUPPRESSED, False, _suppression_detail(entry))


def _decline_key(plan: OfferPlan, state: CustomerState) -> tuple[str, bool]:
    declined = plan.product_code if plan.product_code in state.declined else ""
    return declined, plan.is_sales


@offer_check(r.COOLDOWN_AFTER_DECLINE, share=_decline_key)
def check_decline_cooldown(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 3: after a decline, the same product is suppressed on every channel."""
    declined_at = state.declined.get(plan.product_code)
    detail: dict[str, Any] = {
        "declined_at": declined_at,
        "days": state.policy.decline_cooldown_days,
    }
    if declined_at is not None:
        detail["product"] = plan.product_code
    if not plan.is_sales:
        return _exempt(r.COOLDOWN_AFTER_DECLINE, declined_at is not None, detail)
    return Verdict(r.COOLDOWN_AFTER_DECLINE, declined_at is None, detail)


@customer_check(r.FATIGUE_BACKOFF)
def check_fatigue(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 3: after N ignored sales releases in a row, back off for some days."""
    until = state.fatigue_until
    detail: dict[str, Any] = {
        "ignored_in_row": state.ignored_in_row,
        "limit": state.policy.fatigue_ignored_in_row,
        "until": until,
    }
    if not plan.is_sales:
        return _exempt(r.FATIGUE_BACKOFF, until is not None, detail)
    return Verdict(r.FATIGUE_BACKOFF, until is None, detail)


@campaign_check(r.CAMPAIGN_CAP)
def check_campaign_cap(campaign: CampaignPlan, state: CustomerState) -> Verdict:
    """The campaign's own per-customer cap (releases ever, any kind)."""
    cap = campaign.campaign.per_customer_cap
    count = state.campaign_releases.get(campaign.id, 0)
    return Verdict(r.CAMPAIGN_CAP, cap is None or count < cap, {"releases": count, "cap": cap})


@customer_check(r.FREQUENCY_CAP)
def check_frequency_cap(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rules 3 and 7: one attention budget across every channel, inbound included."""
    detail: dict[str, Any] = {
        "released_24h": state.daily_used,
        "daily_cap": state.policy.daily_cap,
        "released_7d": state.weekly_used,
        "weekly_cap": state.policy.weekly_cap,
    }
    if not plan.is_sales:
        return _exempt(r.FREQUENCY_CAP, state.budget <= 0, detail)
    return Verdict(r.FREQUENCY_CAP, state.budget > 0, detail)


def check_volume(campaign: CampaignPlan, request: DecisionRequest) -> Verdict:
    """The campaign's daily volume limit (customers released to today)."""
    limit = campaign.campaign.daily_volume_limit
    used = request.campaign_volume_today.get(campaign.id, 0)
    return Verdict(r.VOLUME_LIMIT, limit is None or used < limit, {"today": used, "limit": limit})


# --- channel rules -----------------------------------------------------------------------------


@channel_list_check(r.NO_CHANNEL)
def check_has_channel(channels: tuple[str, ...]) -> Verdict:
    """A candidate needs a channel: the campaign's outbound ones, or the inbound one."""
    return Verdict(r.NO_CHANNEL, bool(channels), {"campaign_channels": list(channels)})


@channel_check(r.NO_CONSENT, share=lambda plan, channel, state: (channel, plan.is_sales))
def check_consent(plan: OfferPlan, channel: str, state: CustomerState) -> Verdict:
    """Rule 1: outbound channels need an explicit grant; inbound ones are open unless revoked
    (``needs_explicit_consent`` in the channel registry)."""
    recorded = state.customer.consents.get(channel)
    allowed = recorded is True if channel in EXPLICIT_CONSENT else recorded is not False
    detail: dict[str, Any] = {
        "channel": channel,
        "consent": recorded,
        "outbound": channel in OUTBOUND,
    }
    if not plan.is_sales:
        return _exempt(r.NO_CONSENT, not allowed, detail)
    return Verdict(r.NO_CONSENT, allowed, detail)


@channel_check(r.NO_CONTACT, share=lambda plan, channel, state: (channel, plan.is_sales))
def check_contact(plan: OfferPlan, channel: str, state: CustomerState) -> Verdict:
    """A channel that delivers to an address (e-mail, phone, device) needs one for the
    customer. Service actions are exempt: the pre-send gate reroutes them to a channel that
    reaches the customer, or owes them to the next inbound visit."""
    contact_field = CONTACT_FIELD.get(channel)
    addresses = state.customer.addresses
    reachable = contact_field is None or addresses is None or contact_field in addresses
    detail: dict[str, Any] = {"channel": channel, "contact_field": contact_field}
    if not plan.is_sales:
        return _exempt(r.NO_CONTACT, not reachable, detail)
    return Verdict(r.NO_CONTACT, reachable, detail)


@channel_check(r.CHANNEL_SUPPRESSED, share=lambda plan, channel, state: channel)
def check_channel_suppression(plan: OfferPlan, channel: str, state: CustomerState) -> Verdict:
    entry = state.suppressions.get(("channel", channel))
    if entry is None:
        return Verdict(r.CHANNEL_SUPPRESSED, True, {"channel": channel})
    return Verdict(r.CHANNEL_SUPPRESSED, False, _suppression_detail(entry))


@channel_check(
    r.CONTENT_NOT_APPROVED, share=lambda plan, channel, state: (plan.code, channel), static=True
)
def check_content(plan: OfferPlan, channel: str, state: CustomerState) -> Verdict:
    """Rule 2: only approved content is released (the snapshot holds approved versions only).

    Static: reads the snapshot alone, never ``state``."""
    content = plan.offer.contents.get(channel)
    if content is None:
        return Verdict(r.CONTENT_NOT_APPROVED, False, {"channel": channel})
    return Verdict(
        r.CONTENT_NOT_APPROVED,
        True,
        {"channel": channel, "version": content.version, "content_hash": content.content_hash},
    )


def _cooldown_key(plan: OfferPlan, channel: str, state: CustomerState) -> tuple[str, str, int]:
    cooled = plan.code if (plan.code, channel) in state.last_by_offer_channel else ""
    return cooled, channel, plan.offer.cooldown_days


@channel_check(r.OFFER_COOLDOWN, share=_cooldown_key)
def check_offer_cooldown(plan: OfferPlan, channel: str, state: CustomerState) -> Verdict:
    """The offer's own cooldown: not again on the same channel within ``cooldown_days``."""
    days = plan.offer.cooldown_days
    last = state.last_by_offer_channel.get((plan.code, channel))
    blocked = days > 0 and last is not None and last > state.now - timedelta(days=days)
    return Verdict(
        r.OFFER_COOLDOWN,
        not blocked,
        {"channel": channel, "last_released_at": last, "days": days},
    )


def _presented_key(plan: OfferPlan, channel: str, state: CustomerState) -> tuple[str, str, bool]:
    presented = plan.code if plan.code in state.presented else ""
    return presented, channel, plan.is_sales


@channel_check(r.PRESENTED_ELSEWHERE, share=_presented_key)
def check_presented_elsewhere(plan: OfferPlan, channel: str, state: CustomerState) -> Verdict:
    """Rule 3: not on another channel within N days, unless the customer clicked it."""
    others = frozenset(state.presented.get(plan.code, ())) - {channel}
    engaged = plan.code in state.engaged_offers
    detail: dict[str, Any] = {
        "channel": channel,
        "presented_on": others,
        "days": state.policy.presented_elsewhere_days,
        "clicked": engaged,
    }
    if others and engaged:
        detail["continue_conversation"] = True
    blocked = bool(others) and not engaged
    if not plan.is_sales:
        return _exempt(r.PRESENTED_ELSEWHERE, blocked, detail)
    return Verdict(r.PRESENTED_ELSEWHERE, not blocked, detail)


def deferral(channel: str, state: CustomerState) -> datetime | None:
    """Rule 3: push and SMS never in quiet hours; the release waits until they end."""
    if channel in state.policy.quiet_channels:
        return state.quiet_until
    return None


def policy_summary(policy: PolicySpec) -> dict[str, Any]:
    return {
        "version": policy.version,
        "daily_cap": policy.daily_cap,
        "weekly_cap": policy.weekly_cap,
        "quiet_hours": [policy.quiet_start.isoformat(), policy.quiet_end.isoformat()],
        "quiet_channels": sorted(policy.quiet_channels),
        "decline_cooldown_days": policy.decline_cooldown_days,
        "fatigue_ignored_in_row": policy.fatigue_ignored_in_row,
        "fatigue_backoff_days": policy.fatigue_backoff_days,
        "presented_elsewhere_days": policy.presented_elsewhere_days,
        "hardship_event_types": sorted(policy.hardship_event_types),
        "hardship_days": policy.hardship_days,
    }
