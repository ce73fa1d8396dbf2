"""The in-memory snapshot: catalog, campaigns, policy and models compiled once.

``build_snapshot`` validates everything a decision relies on (references, channels,
non-negative values, model shapes, no protected model features for credit products)
and builds the indexes the hot path uses: real-time campaigns by trigger event type,
inbound campaigns by channel, each campaign's offers by A/B arm (sorted by offer code),
and one compiled evaluator per product model. Decisions never rebuild any of it.

Rules that read a likelihood band (``likelihood("P") >= "target"``) are bound here to the
snapshot's ``likelihoods`` — the same compiled models scoring uses, else each product's
offers' pooled smoothed acceptance rate — once per distinct rule text; a rule parsed
elsewhere (the builder's audience count) is bound with ``Snapshot.bind_rule``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from core.channels import ALL_CHANNELS, INBOUND, OUTBOUND_CHANNELS

from .fields import PRODUCT_FAMILIES
from .hashing import arm_thresholds, control_threshold
from .rules import Rule
from .scoring import (
    ModelEvaluator,
    ProductLikelihoods,
    prior_propensity,
    product_prior,
    protected_features,
)
from .types import (
    KIND_INBOUND,
    KIND_REALTIME,
    RUNNING,
    SALES,
    SERVICE,
    CampaignOffer,
    CampaignSpec,
    ModelSpec,
    OfferSpec,
    PolicySpec,
    ProductSpec,
)


@dataclass(frozen=True, slots=True)
class OfferPlan:
    """One offer as a campaign uses it, with everything the hot path reads precomputed."""

    offer: OfferSpec
    entry: CampaignOffer
    code: str
    product_code: str
    family: str
    is_sales: bool
    is_credit: bool
    relief: frozenset[str]  # hardship event types this service action answers
    prior: float
    value: float
    lever: float


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    campaign: CampaignSpec
    arms: tuple[str, ...]
    arm_thresholds: tuple[float, ...]
    offers_by_arm: tuple[tuple[OfferPlan, ...], ...]  # each sorted by offer code
    outbound_channels: tuple[str, ...]
    control_threshold: int
    shadow: bool  # evaluated, never released

    @property
    def id(self) -> int:
        return self.campaign.id

    @property
    def code(self) -> str:
        return self.campaign.code

    @property
    def offer_plans(self) -> tuple[OfferPlan, ...]:
        """Every (arm, offer) of the campaign, arm by arm."""
        return tuple(plan for arm in self.offers_by_arm for plan in arm)


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: str
    policy: PolicySpec
    products: Mapping[str, ProductSpec]
    offers: Mapping[str, OfferSpec]
    campaigns: Mapping[int, CampaignSpec]
    models: Mapping[str, ModelSpec]
    plans: Mapping[int, CampaignPlan]
    evaluators: Mapping[str, ModelEvaluator]
    realtime_by_event: Mapping[str, tuple[CampaignPlan, ...]]
    inbound_by_channel: Mapping[str, tuple[CampaignPlan, ...]]
    product_family: Mapping[str, str]
    # what ``likelihood("P")`` in a rule reads: the models above, else the product's rate
    likelihoods: ProductLikelihoods
    # verdicts that depend on the snapshot alone (static checks, ``policy.Check``: approved
    # content per offer and channel), stage -> sharing key -> verdict, filled on first use
    # and shared by every decision on this snapshot
    static_verdicts: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def held_families(self, holdings: Iterable[str]) -> frozenset[str]:
        family = self.product_family
        return frozenset(family[code] for code in holdings if code in family)

    def bind_rule(self, rule: Rule) -> Rule:
        """``rule`` reading this snapshot's likelihoods (itself when it reads no band)."""
        return rule.bind(self.likelihoods)


def _check_amount(what: str, value: float) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    return float(value)


def _validate_product(product: ProductSpec) -> None:
    if product.family not in PRODUCT_FAMILIES:
        raise ValueError(f"product {product.code}: unknown family {product.family!r}")
    _check_amount(f"product {product.code} annual_value", product.annual_value)


def _validate_offer(offer: OfferSpec, products: Mapping[str, ProductSpec]) -> None:
    if offer.product.code not in products:
        raise ValueError(f"offer {offer.code}: product {offer.product.code} is not in the snapshot")
    if offer.kind not in (SALES, SERVICE):
        raise ValueError(f"offer {offer.code}: kind must be sales or service, got {offer.kind!r}")
    _check_amount(f"offer {offer.code} lever", offer.lever)
    if offer.value is not None:
        _check_amount(f"offer {offer.code} value", offer.value)
    for event_type, weight in offer.trigger_weights.items():
        _check_amount(f"offer {offer.code} trigger weight for {event_type}", weight)
    for channel, content in offer.contents.items():
        if channel not in ALL_CHANNELS or content.channel != channel:
            raise ValueError(
                f"offer {offer.code}: content keyed {channel!r} is for {content.channel!r}"
            )
        if content.offer_code != offer.code:
            raise ValueError(f"offer {offer.code}: content belongs to offer {content.offer_code}")


def _plan_offer(offer: OfferSpec, entry: CampaignOffer, policy: PolicySpec) -> OfferPlan:
    relief = offer.hardship_relief or (
        frozenset(offer.trigger_weights) & policy.hardship_event_types
    )
    return OfferPlan(
        offer=offer,
        entry=entry,
        code=offer.code,
        product_code=offer.product.code,
        family=offer.product.family,
        is_sales=offer.kind == SALES,
        is_credit=offer.product.is_credit,
        relief=frozenset(relief) if offer.kind == SERVICE else frozenset(),
        prior=prior_propensity(offer),
        value=float(offer.expected_value),
        lever=float(offer.lever),
    )


def _plan_campaign(
    campaign: CampaignSpec, offers: Mapping[str, OfferSpec], policy: PolicySpec
) -> CampaignPlan:
    for channel in campaign.channels:
        if channel not in ALL_CHANNELS:
            raise ValueError(f"campaign {campaign.code}: unknown channel {channel!r}")
    if not 0 <= campaign.control_group_pct <= 100:
        raise ValueError(f"campaign {campaign.code}: control_group_pct must be within 0-100")
    for event_type, trigger in campaign.triggers.items():
        if event_type not in campaign.trigger_event_types or trigger.event_type != event_type:
            raise ValueError(
                f"campaign {campaign.code}: a trigger for {event_type!r}, which is not one of "
                "its trigger event types"
            )
        if trigger.max_age.total_seconds() <= 0:
            raise ValueError(f"campaign {campaign.code}: {event_type} max_age must be positive")
    by_arm: dict[str, dict[str, OfferPlan]] = {}
    weights: dict[str, float] = {}
    for entry in campaign.offers:
        offer = offers.get(entry.offer_code)
        if offer is None:
            raise ValueError(f"campaign {campaign.code}: unknown offer {entry.offer_code}")
        weight = _check_amount(f"campaign {campaign.code} arm {entry.arm} weight", entry.weight)
        arm = by_arm.setdefault(entry.arm, {})
        if entry.offer_code not in arm:
            arm[entry.offer_code] = _plan_offer(offer, entry, policy)
            weights[entry.arm] = weights.get(entry.arm, 0.0) + weight
    arms = tuple(sorted(by_arm))
    return CampaignPlan(
        campaign=campaign,
        arms=arms,
        arm_thresholds=arm_thresholds([weights[arm] for arm in arms]),
        offers_by_arm=tuple(
            tuple(by_arm[arm][code] for code in sorted(by_arm[arm])) for arm in arms
        ),
        outbound_channels=tuple(
            dict.fromkeys(channel for channel in campaign.channels if channel in OUTBOUND_CHANNELS)
        ),
        control_threshold=control_threshold(campaign.control_group_pct),
        shadow=campaign.shadow or campaign.status != RUNNING,
    )


def _is_live(campaign: CampaignSpec) -> bool:
    """Running campaigns release; shadow campaigns are evaluated on live signals too."""
    return campaign.status == RUNNING or campaign.shadow


def build_snapshot(
    *,
    version: str,
    products: Iterable[ProductSpec],
    offers: Iterable[OfferSpec],
    campaigns: Iterable[CampaignSpec],
    policy: PolicySpec,
    models: Iterable[ModelSpec] = (),
) -> Snapshot:
    """Validate and compile the catalog, campaigns, policy and models once."""
    if policy.max_offers_default < 1:
        raise ValueError("policy max_offers_default must be at least 1")
    product_map = {product.code: product for product in products}
    for product in product_map.values():
        _validate_product(product)
    offer_list = list(offers)
    for offer in offer_list:
        _validate_offer(offer, product_map)
    model_map: dict[str, ModelSpec] = {}
    evaluators: dict[str, ModelEvaluator] = {}
    for model in models:
        modelled = product_map.get(model.product_code)
        if modelled is None:
            raise ValueError(f"model v{model.version}: unknown product {model.product_code}")
        protected = protected_features(model.feature_names)
        if modelled.is_credit and protected:
            raise ValueError(
                f"model {model.product_code} v{model.version}: protected attributes "
                f"{', '.join(protected)} are never features of a credit product"
            )
        model_map[model.product_code] = model
        evaluators[model.product_code] = ModelEvaluator(model)
    by_product: dict[str, list[OfferSpec]] = {code: [] for code in product_map}
    for offer in {offer.code: offer for offer in offer_list}.values():
        by_product[offer.product.code].append(offer)
    likelihoods = ProductLikelihoods(
        MappingProxyType(evaluators),
        MappingProxyType({code: product_prior(group) for code, group in by_product.items()}),
    )

    # equal rules share one compiled instance, bound to this snapshot's likelihoods, so a
    # decision evaluates each text once
    rules: dict[Rule, Rule] = {}

    def shared(rule: Rule) -> Rule:
        found = rules.get(rule)
        if found is None:
            found = rules[rule] = rule.bind(likelihoods)
        return found

    offer_map = {
        offer.code: replace(offer, eligibility=shared(offer.eligibility)) for offer in offer_list
    }
    campaign_map = {
        campaign.id: replace(campaign, audience=shared(campaign.audience)) for campaign in campaigns
    }
    plans = {cid: _plan_campaign(c, offer_map, policy) for cid, c in campaign_map.items()}
    ordered = sorted(
        (plans[cid] for cid, c in campaign_map.items() if _is_live(c)),
        key=lambda plan: (-plan.campaign.priority, plan.id),
    )
    realtime: dict[str, list[CampaignPlan]] = {}
    inbound: dict[str, list[CampaignPlan]] = {}
    for plan in ordered:
        if plan.campaign.kind == KIND_REALTIME:
            for event_type in sorted(plan.campaign.trigger_event_types):
                realtime.setdefault(event_type, []).append(plan)
        elif plan.campaign.kind == KIND_INBOUND:
            for channel in dict.fromkeys(plan.campaign.channels):
                if channel in INBOUND:
                    inbound.setdefault(channel, []).append(plan)

    return Snapshot(
        version=version,
        policy=policy,
        products=MappingProxyType(product_map),
        offers=MappingProxyType(offer_map),
        campaigns=MappingProxyType(campaign_map),
        models=MappingProxyType(model_map),
        plans=MappingProxyType(plans),
        evaluators=MappingProxyType(evaluators),
        realtime_by_event=MappingProxyType({k: tuple(v) for k, v in realtime.items()}),
        inbound_by_channel=MappingProxyType({k: tuple(v) for k, v in inbound.items()}),
        product_family=MappingProxyType({code: p.family for code, p in product_map.items()}),
        likelihoods=likelihoods,
    )
