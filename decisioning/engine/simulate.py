"""Simulation: a campaign's audience, suppression funnel and expected conversions.

Runs on a ``BatchResult`` from ``decide_batch`` — the same engine code a launch uses —
so marketers see, before launch, how many customers the audience rule selects, where
the rest drop out (one reason per customer: the rule that removed its last candidate),
how many are held out, and the expected conversions (sum of the propensities of the
offers that would be released).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import reasons as r
from .batch import NO_TIME, BatchResult


@dataclass(frozen=True, slots=True)
class SimulationReport:
    campaign_code: str
    customers: int
    audience_size: int
    released_customers: int
    offers_released: int
    control_group_size: int
    deferred_offers: int
    expected_conversions: float
    funnel: Mapping[str, int]  # outcome -> customers, in pipeline order
    by_offer: Mapping[str, int]
    by_channel: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign_code,
            "customers": self.customers,
            "audience_size": self.audience_size,
            "released_customers": self.released_customers,
            "offers_released": self.offers_released,
            "control_group_size": self.control_group_size,
            "deferred_offers": self.deferred_offers,
            "expected_conversions": self.expected_conversions,
            "funnel": dict(self.funnel),
            "by_offer": dict(self.by_offer),
            "by_channel": dict(self.by_channel),
        }


def summarize(result: BatchResult) -> SimulationReport:
    released = result.released
    counts = result.outcome_counts()
    by_offer = np.bincount(
        result.chosen[released].astype(np.int64), minlength=len(result.offer_codes)
    )
    by_channel = np.bincount(
        result.chosen_channel[released].astype(np.int64), minlength=len(result.channels)
    )
    offers: dict[str, int] = {}
    for code, count in zip(result.offer_codes, by_offer, strict=True):
        if count:
            offers[code] = offers.get(code, 0) + int(count)
    return SimulationReport(
        campaign_code=result.campaign_code,
        customers=result.size,
        audience_size=int(result.in_audience.sum()),
        released_customers=int(released.any(axis=1).sum()),
        offers_released=int(released.sum()),
        control_group_size=int(result.control.sum()),
        deferred_offers=int((released & (result.deliver_after_us != NO_TIME)).sum()),
        expected_conversions=float(result.chosen_propensity[released].sum()),
        funnel={name: counts[name] for name in r.OUTCOMES if name in counts},
        by_offer=offers,
        by_channel={
            channel: int(count)
            for channel, count in zip(result.channels, by_channel, strict=True)
            if count
        },
    )
