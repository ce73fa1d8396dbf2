"""Short builders for engine tests: products, offers, campaigns, snapshots, customers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from campaigns.policy_defaults import default_contact_policy
from decisioning.engine import (
    ALL_CHANNELS,
    CampaignOffer,
    CampaignSpec,
    ContactRecord,
    ContentSpec,
    CustomerContext,
    Decision,
    DecisionRequest,
    EventRecord,
    ModelSpec,
    OfferSpec,
    PolicySpec,
    ProductSpec,
    Snapshot,
    build_snapshot,
    parse_rule,
)

# A Tuesday, noon UTC (13:00 in Europe/Paris, 08:00 in America/New_York).
NOW = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)

PRODUCTS: dict[str, ProductSpec] = {
    "GOLD_CARD": ProductSpec("GOLD_CARD", "Gold card", "cards", 300.0, is_credit=True),
    "FUEL_CARD": ProductSpec("FUEL_CARD", "Fuel card", "cards", 120.0, is_credit=True),
    "PERSONAL_LOAN": ProductSpec("PERSONAL_LOAN", "Personal loan", "loans", 800.0, is_credit=True),
    "MORTGAGE": ProductSpec("MORTGAGE", "Mortgage", "mortgages", 2500.0, is_credit=True),
    "SAVINGS": ProductSpec("SAVINGS", "Savings account", "deposits", 150.0),
    "HOME_INSURANCE": ProductSpec("HOME_INSURANCE", "Home insurance", "insurance", 200.0),
    "FUND": ProductSpec("FUND", "Index fund", "investments", 400.0),
    "CURRENT_ACCOUNT": ProductSpec("CURRENT_ACCOUNT", "Current account", "deposits", 50.0),
}


def content(offer_code: str, channel: str, version: int = 1) -> ContentSpec:
    return ContentSpec(
        offer_code=offer_code,
        channel=channel,
        version=version,
        content_hash=f"{offer_code}:{channel}:{version}",
        headline=f"{offer_code} on {channel}",
        body="Body",
        call_to_action="Go",
        disclosure="Terms apply",
    )


def offer(
    code: str,
    product: str = "GOLD_CARD",
    *,
    channels: Iterable[str] = ALL_CHANNELS,
    eligibility: str = "",
    **fields: Any,
) -> OfferSpec:
    return OfferSpec(
        code=code,
        product=PRODUCTS[product],
        eligibility=parse_rule(eligibility),
        contents={channel: content(code, channel) for channel in channels},
        **fields,
    )


def campaign(
    id: int,
    offers: Sequence[str | CampaignOffer],
    *,
    kind: str = "inbound",
    channels: Sequence[str] = ALL_CHANNELS,
    audience: str = "",
    triggers: Iterable[str] = (),
    **fields: Any,
) -> CampaignSpec:
    return CampaignSpec(
        id=id,
        code=fields.pop("code", f"C{id}"),
        name=fields.pop("name", f"Campaign {id}"),
        kind=kind,
        offers=tuple(o if isinstance(o, CampaignOffer) else CampaignOffer(o) for o in offers),
        audience=parse_rule(audience),
        trigger_event_types=frozenset(triggers),
        channels=tuple(channels),
        **fields,
    )


def contact_policy(**fields: Any) -> PolicySpec:
    """The bank's default contact policy (``campaigns.policy_defaults``, as version 1)
    as the engine reads it, with ``fields`` changed."""
    values: dict[str, Any] = {"version": 1, **default_contact_policy()}
    values["quiet_channels"] = frozenset(values["quiet_channels"])
    values["hardship_event_types"] = frozenset(values["hardship_event_types"])
    return PolicySpec(**{**values, **fields})


def snapshot(
    offers: Sequence[OfferSpec],
    campaigns: Sequence[CampaignSpec],
    *,
    policy: PolicySpec | None = None,
    models: Sequence[ModelSpec] = (),
    version: str = "snap-1",
) -> Snapshot:
    return build_snapshot(
        version=version,
        products=PRODUCTS.values(),
        offers=offers,
        campaigns=campaigns,
        policy=policy or contact_policy(),
        models=models,
    )


ALL_GRANTED: Mapping[str, bool] = {"push": True, "sms": True, "email": True}


def customer(customer_id: int = 1, **fields: Any) -> CustomerContext:
    fields.setdefault("external_id", f"C{customer_id}")
    fields.setdefault("age", 35)
    fields.setdefault("tenure_months", 24)
    fields.setdefault("region", "North")
    fields.setdefault("time_zone", "UTC")
    fields.setdefault("consents", dict(ALL_GRANTED))
    if "holdings" in fields:
        fields["holdings"] = frozenset(fields["holdings"])
    for name in ("suppressions", "contact_history", "recent_events"):
        if name in fields:
            fields[name] = tuple(fields[name])
    return CustomerContext(customer_id=customer_id, **fields)


def inbound(channel: str = "mobile_app", now: datetime = NOW, **fields: Any) -> DecisionRequest:
    return DecisionRequest(mode="inbound", now=now, channel=channel, **fields)


def event(event_type: str, now: datetime = NOW, **fields: Any) -> DecisionRequest:
    return DecisionRequest(mode="event", now=now, event_type=event_type, **fields)


def batch(campaign_id: int, now: datetime = NOW, **fields: Any) -> DecisionRequest:
    return DecisionRequest(mode="batch", now=now, campaign_ids=frozenset({campaign_id}), **fields)


def contact(
    offer_code: str,
    at: datetime,
    *,
    channel: str = "push",
    outcome: str | None = None,
    product: str | None = None,
    campaign_id: int | None = 1,
    kind: str = "sales",
    outcome_at: datetime | None = None,
) -> ContactRecord:
    product_code = product or offer_code
    family = PRODUCTS[product_code].family if product_code in PRODUCTS else "cards"
    return ContactRecord(
        offer_code=offer_code,
        product_code=product_code,
        family=family,
        campaign_id=campaign_id,
        channel=channel,
        kind=kind,  # type: ignore[arg-type]
        released_at=at,
        outcome=outcome,
        outcome_at=outcome_at or (at if outcome else None),
    )


def hardship(event_type: str = "payment_failed", at: datetime = NOW) -> EventRecord:
    return EventRecord(event_type, at)


def with_released(context: CustomerContext, decision: Decision) -> CustomerContext:
    """The customer after the decision's released offers reached them."""
    records = tuple(
        ContactRecord(
            offer_code=o.offer_code,
            product_code=o.product_code,
            family=o.family,
            campaign_id=o.campaign_id,
            channel=o.channel,
            kind=o.kind,  # type: ignore[arg-type]
            released_at=decision.decided_at,
        )
        for o in decision.offers
    )
    return dataclasses.replace(context, contact_history=context.contact_history + records)


def with_response(
    context: CustomerContext, offer_code: str, outcome: str, at: datetime
) -> CustomerContext:
    """Record ``outcome`` on the most recent release of ``offer_code``."""
    history = list(context.contact_history)
    for index in range(len(history) - 1, -1, -1):
        if history[index].offer_code == offer_code and history[index].outcome is None:
            history[index] = dataclasses.replace(history[index], outcome=outcome, outcome_at=at)
            break
    holdings = context.holdings
    if outcome == "accept":
        holdings = holdings | {history[index].product_code}
    return dataclasses.replace(context, contact_history=tuple(history), holdings=holdings)


def later(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    return NOW + timedelta(days=days, hours=hours, minutes=minutes)
