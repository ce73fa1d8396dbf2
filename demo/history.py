"""The response history: months of offers shown and what customers did with them.

Each customer saw a Poisson number of sales offers (mean ``MEAN_EXPOSURES``) over the
``HISTORY_DAYS`` before the as-of date, each picked at random among the offers the
customer was eligible for (offer rule, no product of the family held), on a channel the
customer allowed. Whether they accepted is drawn from ``ground_truth``; otherwise they
ignored it (impression), dismissed, declined or clicked without taking it.

Acceptances are deliberately not turned into holdings: current holdings are the
features the history was drawn from, so a model trained on them sees no label leak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.channels import ALL_CHANNELS, OUTBOUND
from core.choices import Channel
from decisioning.choices import Outcome
from decisioning.engine.rules import parse_rule
from demo.catalog import OFFERS, PRODUCTS_BY_CODE, OfferDef
from demo.columns import PopulationColumns
from demo.consents import ConsentDraw
from demo.ground_truth import GROUND_TRUTH, acceptance_probability
from offers.choices import OfferKind

HISTORY_DAYS = 180
MEAN_EXPOSURES = 2.6
MAX_EXPOSURES = 8
DAY_START_SECONDS = 8 * 3600
DAY_END_SECONDS = 22 * 3600

# Where offers were shown, before consent and digital reach narrow it per customer.
CHANNEL_WEIGHTS: dict[str, float] = {
    Channel.EMAIL: 0.24,
    Channel.PUSH: 0.18,
    Channel.SMS: 0.07,
    Channel.MOBILE_APP: 0.20,
    Channel.WEB: 0.10,
    Channel.BRANCH: 0.12,
    Channel.CONTACT_CENTER: 0.07,
    Channel.ATM: 0.02,
}
# The order the history draw indexes channels by (kept stable: the seed depends on it).
WEIGHTED_CHANNELS: tuple[str, ...] = tuple(str(c) for c in CHANNEL_WEIGHTS)
assert set(WEIGHTED_CHANNELS) == set(ALL_CHANNELS), "give every registered channel a weight"
DIGITAL = frozenset({Channel.MOBILE_APP, Channel.WEB, Channel.PUSH})

OUTCOMES: tuple[str, ...] = (
    Outcome.ACCEPT,
    Outcome.IMPRESSION,
    Outcome.DISMISS,
    Outcome.DECLINE,
    Outcome.CLICK,
)
# Shares of the outcomes that are not an acceptance.
NOT_ACCEPTED_SHARES = np.array([0.40, 0.24, 0.30, 0.06])


def history_offers() -> tuple[OfferDef, ...]:
    """Sales offers whose product has a ground truth: the ones customers were shown."""
    return tuple(o for o in OFFERS if o.kind == OfferKind.SALES and o.product_code in GROUND_TRUTH)


@dataclass(slots=True)
class HistoryDraw:
    """One row per response: local customer position, offer, channel, outcome, when."""

    customer: np.ndarray
    ordinal: np.ndarray  # the customer's k-th response (0-based), for stable ids
    offer: np.ndarray  # index into ``history_offers()``
    channel: np.ndarray  # index into ``WEIGHTED_CHANNELS``
    outcome: np.ndarray  # index into ``OUTCOMES``
    days_before: np.ndarray
    second_of_day: np.ndarray

    @property
    def size(self) -> int:
        return len(self.customer)


def eligibility_matrix(columns: PopulationColumns, offers: tuple[OfferDef, ...]) -> np.ndarray:
    """customers x offers: passes the offer's rule and holds nothing of its family."""
    masks = []
    for offer in offers:
        family = PRODUCTS_BY_CODE[offer.product_code].family
        rule = parse_rule(offer.eligibility_rule)
        masks.append(rule.mask(columns) & ~columns.holds_family(family))
    return np.column_stack(masks)


def channel_weights(columns: PopulationColumns, consents: ConsentDraw) -> np.ndarray:
    """customers x channels: the weight of each channel this customer could be reached on."""
    pop = columns.pop
    weights = []
    for channel in WEIGHTED_CHANNELS:
        allowed = consents.channel_allowed(channel, outbound=channel in OUTBOUND)
        if channel in DIGITAL:
            allowed = allowed & pop.digital_active
        weights.append(np.where(allowed, CHANNEL_WEIGHTS[channel], 0.0))
    return np.column_stack(weights)


def draw_history(
    columns: PopulationColumns, consents: ConsentDraw, rng: np.random.Generator
) -> HistoryDraw:
    offers = history_offers()
    n = columns.size
    eligible = eligibility_matrix(columns, offers) & consents.marketing_allowed()[:, None]
    accept_p = np.column_stack(
        [acceptance_probability(columns, o.product_code, o.code) for o in offers]
    )
    reach = channel_weights(columns, consents)
    reach_total = reach.cumsum(axis=1)
    counts = np.minimum(rng.poisson(MEAN_EXPOSURES, n), MAX_EXPOSURES)
    counts = np.where(eligible.any(axis=1), counts, 0)

    parts: list[tuple[np.ndarray, ...]] = []
    for k in range(int(counts.max(initial=0))):
        who = np.flatnonzero(counts > k)
        # A uniformly random eligible offer: the largest random key among eligible ones.
        keys = rng.random((len(who), len(offers))) * eligible[who]
        offer = keys.argmax(axis=1)
        totals = reach_total[who]
        u = rng.random(len(who)) * totals[:, -1]
        channel = (totals <= u[:, None]).sum(axis=1)
        accepted = rng.random(len(who)) < accept_p[who, offer]
        other = 1 + rng.choice(len(NOT_ACCEPTED_SHARES), len(who), p=NOT_ACCEPTED_SHARES)
        outcome = np.where(accepted, 0, other)
        days = rng.integers(1, HISTORY_DAYS + 1, len(who))
        seconds = rng.integers(DAY_START_SECONDS, DAY_END_SECONDS, len(who))
        parts.append((who, np.full(len(who), k), offer, channel, outcome, days, seconds))

    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return HistoryDraw(empty, empty, empty, empty, empty, empty, empty)
    stacked = [np.concatenate(column) for column in zip(*parts, strict=True)]
    order = np.lexsort((stacked[1], stacked[0]))
    return HistoryDraw(*(column[order] for column in stacked))
