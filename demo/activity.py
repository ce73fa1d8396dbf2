"""A stream of demo signals: what the channels would send in the last hour.

The stream is drawn from the seed; event ids carry the seed and the minute the demo ran,
so each demo run replays a fresh hour of signals and a retry within the same minute is
answered as duplicates, as a channel's retry would be.

Card transactions are at fuel merchants and elsewhere, and some are refunds: the fuel
campaign's trigger condition fires on the fuel purchases only. The journeys get their
history: cards issued a week or more ago, loan pages visited three days ago, some
followed by an activation or an application.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Count, Q

from decisioning.engine.reasons import (
    EVENT_IN_FUTURE,
    EVENT_TOO_OLD,
    TRIGGER_CONDITION_NOT_MET,
    TRIGGER_OUTCOMES,
)
from decisioning.models import Decision

# (event type, share of the stream, payload maker)
MIX: tuple[tuple[str, float], ...] = (
    ("card_transaction", 0.30),
    ("large_transfer_out", 0.20),
    ("payment_failed", 0.15),
    ("loan_calculator_used", 0.15),
    ("page_view", 0.10),
    ("app_login", 0.10),
)
MERCHANTS = ("fuel", "fuel", "groceries", "restaurants", "travel", "pharmacy")
REFUND_SHARE = 0.1
PAGES = ("/loans/personal", "/loans/car", "/cards/gold", "/savings", "/insurance/home")
LOAN_PAGES = ("/loans/personal", "/loans/car", "/loans")


@dataclass(frozen=True, slots=True)
class DemoEvent:
    event_id: str
    type: str
    occurred_at: datetime.datetime
    external_id: str
    channel: str
    payload: dict[str, Any]


def _payload(kind: str, rng: np.random.Generator) -> dict[str, Any]:
    if kind == "card_transaction":
        merchant = str(rng.choice(MERCHANTS))
        amount = round(float(rng.uniform(15, 120)), 2)
        refund = bool(rng.random() < REFUND_SHARE)
        return {"merchant_category": merchant, "amount": -amount if refund else amount}
    if kind == "large_transfer_out":
        return {"amount": round(float(rng.uniform(5_000, 40_000)), 2), "destination": "external"}
    if kind == "payment_failed":
        return {"amount": round(float(rng.uniform(40, 900)), 2), "reason": "insufficient_funds"}
    if kind == "loan_calculator_used":
        return {"amount": int(rng.choice([5_000, 10_000, 15_000, 25_000])), "term_months": 60}
    if kind == "page_view":
        return {"page": str(rng.choice(PAGES))}
    return {}


def signal_stream(
    *, seed: int, external_ids: list[str], count: int, now: datetime.datetime
) -> list[DemoEvent]:
    """``count`` events over the last hour for random customers, oldest first."""
    rng = np.random.default_rng(seed + 7_001)
    kinds = [kind for kind, _ in MIX]
    shares = np.array([share for _, share in MIX])
    picks = rng.choice(len(kinds), size=count, p=shares / shares.sum())
    who = rng.integers(0, len(external_ids), size=count)
    ago = np.sort(rng.uniform(0, 3_600, size=count))[::-1]
    channels = ("mobile_app", "web", "mobile_app", "atm")
    return [
        DemoEvent(
            event_id=f"demo-{seed}-{now:%Y%m%d%H%M}-signal-{i:05d}",
            type=kinds[picks[i]],
            occurred_at=now - datetime.timedelta(seconds=float(ago[i])),
            external_id=external_ids[int(who[i])],
            channel=channels[i % len(channels)],
            payload=_payload(kinds[picks[i]], rng),
        )
        for i in range(count)
    ]


def journey_stream(
    *, seed: int, external_ids: list[str], count: int, now: datetime.datetime
) -> list[DemoEvent]:
    """Cards issued 8-12 days ago, about 60% activated within three days; loan pages
    visited 3-4 days ago, about 40% followed by an application within two days."""
    rng = np.random.default_rng(seed + 7_002)
    events = _card_journeys(rng, external_ids, count, now, seed)
    for i, index in enumerate(
        rng.choice(len(external_ids), size=min(count, len(external_ids)), replace=False)
    ):
        visited = now - datetime.timedelta(days=float(rng.uniform(3.05, 3.95)))
        external_id = external_ids[int(index)]
        events.append(
            DemoEvent(
                f"demo-{seed}-{now:%Y%m%d%H%M}-loan-page-{i:05d}",
                "page_view",
                visited,
                external_id,
                "web",
                {"page": str(rng.choice(LOAN_PAGES))},
            )
        )
        if rng.random() < 0.4:
            applied = visited + datetime.timedelta(days=float(rng.uniform(0.1, 2)))
            events.append(
                DemoEvent(
                    f"demo-{seed}-{now:%Y%m%d%H%M}-loan-application-{i:05d}",
                    "loan_application",
                    applied,
                    external_id,
                    "web",
                    {"product": "PERSONAL_LOAN"},
                )
            )
    return events


def _card_journeys(
    rng: np.random.Generator,
    external_ids: list[str],
    count: int,
    now: datetime.datetime,
    seed: int,
) -> list[DemoEvent]:
    events: list[DemoEvent] = []
    for i, index in enumerate(
        rng.choice(len(external_ids), size=min(count, len(external_ids)), replace=False)
    ):
        issued = now - datetime.timedelta(days=float(rng.uniform(8, 12)))
        external_id = external_ids[int(index)]
        events.append(
            DemoEvent(
                f"demo-{seed}-{now:%Y%m%d%H%M}-issued-{i:05d}",
                "card_issued",
                issued,
                external_id,
                "branch",
                {},
            )
        )
        if rng.random() < 0.6:
            activated = issued + datetime.timedelta(days=float(rng.uniform(0.1, 3)))
            events.append(
                DemoEvent(
                    f"demo-{seed}-{now:%Y%m%d%H%M}-activated-{i:05d}",
                    "card_activated",
                    activated,
                    external_id,
                    "atm",
                    {},
                )
            )
    return events


FUEL_CAMPAIGN = "RT_FUEL_CARD"
LOAN_PAGE_JOURNEY = "JOURNEY_LOAN_PAGE"


def triggers_at_work() -> str:
    """One line: what the trigger conditions did to the signals replayed so far."""
    refused = Q(outcome_reason__in=TRIGGER_OUTCOMES)
    fuel = Decision.objects.filter(
        campaign__code=FUEL_CAMPAIGN, event__type="card_transaction"
    ).aggregate(
        fired=Count("id", filter=~refused),
        condition=Count("id", filter=Q(outcome_reason=TRIGGER_CONDITION_NOT_MET)),
        old=Count("id", filter=Q(outcome_reason__in=[EVENT_TOO_OLD, EVENT_IN_FUTURE])),
    )
    journey = Decision.objects.filter(campaign__code=LOAN_PAGE_JOURNEY).aggregate(
        fired=Count("id", filter=~refused & Q(mode="absence")),
        refused=Count("id", filter=refused),
    )
    return (
        f"  Triggers:   {FUEL_CAMPAIGN} fired on {fuel['fired']:,} card_transaction events "
        f"(fuel purchases), refused {fuel['condition']:,} by its condition and "
        f"{fuel['old']:,} as too old or future-dated; {LOAN_PAGE_JOURNEY} followed up "
        f"{journey['fired']:,} loan-page visits with no application in 3 days "
        f"({journey['refused']:,} page views refused)"
    )
