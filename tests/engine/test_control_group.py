"""Control group and A/B arms: deterministic hashes, identical in Python and NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from decisioning.engine import CampaignOffer, decide
from decisioning.engine.hashing import (
    arm_thresholds,
    control_threshold,
    in_control,
    in_control_array,
    mix64,
    mix64_array,
    pick_arm,
    pick_arm_array,
)

from .builders import campaign, customer, inbound, offer, snapshot

ids = st.integers(-(2**63), 2**63 - 1)


@given(st.lists(ids, min_size=1, max_size=50), st.integers(0, 10**9), st.integers(0, 10_000))
def test_python_and_numpy_hashes_agree_bit_for_bit(customer_ids, campaign_id, threshold):
    array = np.asarray(customer_ids, dtype=np.int64)
    assert mix64_array(array.view(np.uint64)).tolist() == [
        mix64(i & (2**64 - 1)) for i in customer_ids
    ]
    assert in_control_array(campaign_id, array, threshold).tolist() == [
        in_control(campaign_id, i, threshold) for i in customer_ids
    ]
    thresholds = arm_thresholds([1.0, 0.0, 2.5])
    assert pick_arm_array(campaign_id, array, thresholds).tolist() == [
        pick_arm(campaign_id, i, thresholds) for i in customer_ids
    ]


def test_control_share_matches_the_percentage_over_many_customers():
    customers = np.arange(1, 200_001, dtype=np.int64)
    for pct in (0.0, 0.5, 10.0, 33.3, 100.0):
        share = in_control_array(42, customers, control_threshold(pct)).mean()
        assert share == pytest.approx(pct / 100, abs=0.004)


def test_control_share_through_decide_is_about_the_percentage():
    snap = snapshot([offer("GOLD")], [campaign(9, ["GOLD"], control_group_pct=20)])
    held = sum(decide(snap, customer(i), inbound()).control_group for i in range(1, 3001))
    assert held / 3000 == pytest.approx(0.20, abs=0.025)


def test_control_membership_is_independent_across_campaigns():
    customers = np.arange(1, 100_001, dtype=np.int64)
    a = in_control_array(1, customers, control_threshold(50))
    b = in_control_array(2, customers, control_threshold(50))
    assert (a & b).mean() == pytest.approx(0.25, abs=0.01)


def test_ab_arms_are_weighted_and_stable_per_customer():
    snap = snapshot(
        [offer("GOLD"), offer("FUEL", "FUEL_CARD")],
        [campaign(5, [CampaignOffer("GOLD", "A", 1.0), CampaignOffer("FUEL", "B", 3.0)])],
    )
    arms = [decide(snap, customer(i), inbound()).candidates[0].arm for i in range(1, 4001)]
    assert arms.count("B") / len(arms) == pytest.approx(0.75, abs=0.03)
    assert arms == [decide(snap, customer(i), inbound()).candidates[0].arm for i in range(1, 4001)]
    decision = decide(snap, customer(1), inbound())
    assert {c.offer_code for c in decision.candidates} == {
        "GOLD" if decision.candidates[0].arm == "A" else "FUEL"
    }
    assert decision.offers[0].arm == decision.candidates[0].arm


def test_zero_weight_arm_is_never_chosen():
    thresholds = arm_thresholds([0.0, 1.0, 0.0])
    picks = pick_arm_array(3, np.arange(10_000, dtype=np.int64), thresholds)
    assert set(picks.tolist()) == {1}
    assert arm_thresholds([0.0, 0.0]) == (float("inf"), float("inf"))
