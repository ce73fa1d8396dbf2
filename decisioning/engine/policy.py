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
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from core.channels import EXPLICIT_CONSENT, OUTBOUND

from . import reasons as r
from .rules import Rule
from .snapshot import CampaignPlan, OfferPlan, Snapshot
from .timeutil import quiet_hours, zone
from .types import (
    ACTIVE,
    ENGAGED_OUTCOMES,
    OUTCOME_DECLINE,
    SALES,
    CustomerContext,
    DecisionRequest,
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


def _suppression_detail(entry: SuppressionSpec) -> dict[str, Any]:
    return {
        "scope": entry.scope,
        "value": entry.value,
        "until": entry.until,
        "reason": entry.reason,
    }


# --- customer and candidate rules ------------------------------------------------------------


def check_erased(state: CustomerState) -> Verdict:
    """Rule 1: nothing, not even a service action, reaches an erased customer."""
    return Verdict(r.ERASED, not state.customer.erased, {"erased": state.customer.erased})


def check_offer_active(plan: OfferPlan, now: datetime) -> Verdict:
    """Rule 2: only active offers inside their validity window."""
    offer = plan.offer
    passed = (
        offer.status == ACTIVE
        and (offer.valid_from is None or offer.valid_from <= now)
        and (offer.valid_until is None or now < offer.valid_until)
    )
    return Verdict(
        r.OFFER_NOT_ACTIVE,
        passed,
        {
            "status": offer.status,
            "valid_from": offer.valid_from,
            "valid_until": offer.valid_until,
        },
    )


def _rule_values(
    rule: Rule, customer: CustomerContext, held_families: frozenset[str]
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
    return values


def check_rule(rule: Rule, reason: str, state: CustomerState) -> Verdict:
    """A marketer's rule (campaign audience or offer eligibility) with the values it read."""
    passed = rule.evaluate(state.customer, state.held_families)
    if rule.always_true:
        return Verdict(reason, True, {"rule": ""})
    values = _rule_values(rule, state.customer, state.held_families)
    return Verdict(reason, passed, {"rule": rule.to_text(), "values": values})


def check_holds_product(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 3: a held product's family is never offered."""
    held = plan.family in state.held_families
    detail: dict[str, Any] = {"family": plan.family, "held_families": state.held_families}
    if not plan.is_sales:
        return _exempt(r.HOLDS_PRODUCT, held, detail)
    return Verdict(r.HOLDS_PRODUCT, not held, detail)


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


def check_do_not_contact(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 1: do-not-contact blocks all marketing on every channel."""
    flagged = state.customer.do_not_contact
    if not plan.is_sales:
        return _exempt(r.DO_NOT_CONTACT, flagged, {"do_not_contact": flagged})
    return Verdict(r.DO_NOT_CONTACT, not flagged, {"do_not_contact": flagged})


def check_global_opt_out(plan: OfferPlan, state: CustomerState) -> Verdict:
    """Rule 1: the global marketing opt-out blocks all marketing on every channel."""
    flagged = state.customer.global_opt_out
    if not plan.is_sales:
        return _exempt(r.GLOBAL_OPT_OUT, flagged, {"global_opt_out": flagged})
    return Verdict(r.GLOBAL_OPT_OUT, not flagged, {"global_opt_out": flagged})


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


def check_campaign_cap(campaign: CampaignPlan, state: CustomerState) -> Verdict:
    """The campaign's own per-customer cap (releases ever, any kind)."""
    cap = campaign.campaign.per_customer_cap
    count = state.campaign_releases.get(campaign.id, 0)
    return Verdict(r.CAMPAIGN_CAP, cap is None or count < cap, {"releases": count, "cap": cap})


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


def check_channel_suppression(channel: str, state: CustomerState) -> Verdict:
    entry = state.suppressions.get(("channel", channel))
    if entry is None:
        return Verdict(r.CHANNEL_SUPPRESSED, True, {"channel": channel})
    return Verdict(r.CHANNEL_SUPPRESSED, False, _suppression_detail(entry))


def check_content(plan: OfferPlan, channel: str) -> Verdict:
    """Rule 2: only approved content is released (the snapshot holds approved versions only)."""
    content = plan.offer.contents.get(channel)
    if content is None:
        return Verdict(r.CONTENT_NOT_APPROVED, False, {"channel": channel})
    return Verdict(
        r.CONTENT_NOT_APPROVED,
        True,
        {"channel": channel, "version": content.version, "content_hash": content.content_hash},
    )


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
