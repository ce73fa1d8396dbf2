"""Cold start: offers with little history explore by Thompson sampling, in a share."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest

from decisioning.engine import decide, decide_batch
from decisioning.engine.batch import CustomerBatch
from decisioning.engine.scoring import (
    Exploration,
    configure_exploration,
    posterior,
    thompson_draw,
    thompson_draws,
)
from decisioning.engine.timeutil import to_us
from tests.engine.builders import (
    NOW,
    PRODUCTS,
    batch,
    campaign,
    customer,
    inbound,
    offer,
    snapshot,
)


@contextmanager
def exploring(share: float, max_presented: int = 200):
    previous = configure_exploration(Exploration(share=share, max_presented=max_presented))
    try:
        yield
    finally:
        configure_exploration(previous)


def _snapshot(presented: int):
    offers = [
        offer("NEW_CARD", "GOLD_CARD", prior_presented=presented, prior_accepted=presented // 10),
        offer("OLD_FUND", "FUND", prior_presented=5_000, prior_accepted=400),
    ]
    return snapshot(
        offers, [campaign(1, ["NEW_CARD", "OLD_FUND"], kind="inbound", channels=("web",))]
    )


def _candidate(decision, code):
    return next(c for c in decision.candidates if c.offer_code == code)


def test_an_offer_with_little_history_explores_in_about_its_share_of_decisions():
    snap = _snapshot(presented=10)
    with exploring(0.3):
        sources = [
            _candidate(decide(snap, customer(i), inbound("web")), "NEW_CARD").factors.source
            for i in range(1, 2001)
        ]
    share = sources.count("exploration") / len(sources)
    assert 0.26 < share < 0.34
    assert set(sources) == {"exploration", "prior"}


def test_the_explanation_records_the_draw_its_posterior_and_what_it_replaced():
    snap = _snapshot(presented=10)
    with exploring(1.0):
        decision = decide(snap, customer(5), inbound("web"))
    factors = _candidate(decision, "NEW_CARD").factors
    assert factors.source == "exploration"
    assert factors.sampled == factors.propensity
    assert factors.posterior == "Beta(2, 28)"  # 1 accepted of 10, Beta(1, 19) prior
    assert factors.exploited == pytest.approx(2 / 30)
    old = _candidate(decision, "OLD_FUND").factors
    assert old.source == "prior"  # plenty of history: never explores


def test_offers_past_the_history_threshold_and_a_zero_share_never_explore():
    with exploring(1.0, max_presented=10):
        decision = decide(_snapshot(presented=10), customer(5), inbound("web"))
        assert _candidate(decision, "NEW_CARD").factors.source == "prior"
    with exploring(0.0):
        decision = decide(_snapshot(presented=0), customer(5), inbound("web"))
        assert _candidate(decision, "NEW_CARD").factors.source == "prior"


def test_draws_follow_the_beta_posterior():
    spec = _snapshot(presented=100).offers["NEW_CARD"]
    a, b = posterior(spec)
    with exploring(1.0):
        draws = np.array([thompson_draw(spec, i, to_us(NOW)) for i in range(4000)])
    assert draws.mean() == pytest.approx(a / (a + b), abs=0.004)
    assert draws.var() == pytest.approx(a * b / ((a + b) ** 2 * (a + b + 1)), rel=0.15)


def test_scalar_and_batch_draw_the_same_values():
    spec = _snapshot(presented=3).offers["NEW_CARD"]
    ids = np.arange(1, 500)
    with exploring(0.4):
        explored, draws = thompson_draws(spec, ids, to_us(NOW))
        scalar = [thompson_draw(spec, int(i), to_us(NOW)) for i in ids]
    assert [d is not None for d in scalar] == list(explored)
    assert np.allclose([d for d in scalar if d is not None], draws[explored], rtol=0, atol=1e-12)


def test_batch_decisions_explore_like_scalar_ones():
    offers = [
        offer("NEW_CARD", "GOLD_CARD"),
        offer("OLD_FUND", "FUND", prior_presented=9_000, prior_accepted=50),
    ]
    snap = snapshot(
        offers, [campaign(7, ["NEW_CARD", "OLD_FUND"], kind="batch", channels=("email",))]
    )
    people = [customer(i, consents={"email": True}) for i in range(1, 301)]
    request = batch(7)
    with exploring(0.5):
        result = decide_batch(
            snap, CustomerBatch.from_contexts(people, product_codes=tuple(PRODUCTS)), request
        )
        scalar = [decide(snap, person, request) for person in people]
    compared = explored = 0
    for i, decision in enumerate(scalar):
        if decision.offers:
            top = decision.offers[0].factors
            assert result.chosen_propensity[i, 0] == pytest.approx(top.propensity, abs=1e-12)
            compared += 1
            explored += top.source == "exploration"
    assert compared > 100 and explored > 20
