"""Scoring: every factor, the Beta prior, calibrated models, features, likelihood bands."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

from decisioning.engine import (
    CustomerBatch,
    ModelSpec,
    build_feature_matrix,
    build_feature_vector,
    decide,
    likelihood_band,
)
from decisioning.engine.scoring import prior_propensity, sigmoid, sigmoid_array

from .builders import PRODUCTS, campaign, customer, event, inbound, offer, snapshot
from .strategies import customers

FAMILIES = {code: product.family for code, product in PRODUCTS.items()}
FEATURES = (
    "age",
    "tenure_months",
    "income_band=high",
    "risk_band=low",
    "holds:CURRENT_ACCOUNT",
    "holds_family:cards",
    "attributes.salary",
    "attributes.tier=gold",
    "has_email",
)


def test_score_is_propensity_times_value_times_lever_times_context_weight():
    snap = snapshot(
        [
            offer(
                "FUEL",
                "FUEL_CARD",
                lever=1.5,
                value=200.0,
                prior_presented=30,
                prior_accepted=9,
                trigger_weights={"card_transaction": 2.0},
            )
        ],
        [campaign(1, ["FUEL"], kind="realtime", triggers={"card_transaction"}, channels=("push",))],
    )
    (released,) = decide(snap, customer(), event("card_transaction")).offers
    factors = released.factors
    assert factors.propensity == pytest.approx((9 + 1) / (30 + 20))
    assert (factors.value, factors.lever, factors.context_weight) == (200.0, 1.5, 2.0)
    assert factors.source == "prior" and factors.model_version is None
    assert released.score == pytest.approx(0.2 * 200.0 * 1.5 * 2.0)
    assert released.reasons[0].startswith("score 120 = propensity 0.2000 x value 200")


def test_value_falls_back_to_the_product_annual_value_and_the_prior_starts_at_5_percent():
    gold = offer("GOLD")
    assert gold.expected_value == PRODUCTS["GOLD_CARD"].annual_value
    assert prior_propensity(gold) == pytest.approx(1 / 20)
    odd = offer("ODD", prior_presented=3, prior_accepted=9)  # more accepts than presentations
    assert prior_propensity(odd) == pytest.approx((3 + 1) / (3 + 20))


def test_calibrated_model_propensity_and_version_are_recorded():
    model = ModelSpec(
        product_code="GOLD_CARD",
        version="12",
        feature_names=("age", "income_band=high", "holds:CURRENT_ACCOUNT"),
        coefficients=(0.02, 0.5, -0.25),
        intercept=-2.0,
        calibration_a=0.9,
        calibration_b=0.1,
    )
    snap = snapshot([offer("GOLD")], [campaign(1, ["GOLD"])], models=[model])
    person = customer(age=40, income_band="high", holdings={"CURRENT_ACCOUNT"})
    decision = decide(snap, person, inbound())
    z = -2.0 + 0.02 * 40 + 0.5 - 0.25
    expected = 1 / (1 + math.exp(-(0.9 * z + 0.1)))
    factors = decision.offers[0].factors
    assert factors.propensity == pytest.approx(expected)
    assert (factors.source, factors.model_version) == ("model", "12")
    assert decision.model_versions == {"GOLD_CARD": "12"}


def test_protected_attributes_are_refused_as_features_of_credit_products():
    model = ModelSpec("GOLD_CARD", "1", ("attributes.gender=F",), (0.1,))
    with pytest.raises(ValueError, match="protected attributes"):
        snapshot([offer("GOLD")], [campaign(1, ["GOLD"])], models=[model])
    savings = ModelSpec("SAVINGS", "1", ("attributes.marital_status=married",), (0.1,))
    assert snapshot([offer("SAVE", "SAVINGS")], [campaign(1, ["SAVE"])], models=[savings])


def test_unknown_feature_names_are_refused():
    for name in ("salary", "region", "holds_family:boats", "age=3"):
        with pytest.raises(ValueError):
            snapshot(
                [offer("GOLD")],
                [campaign(1, ["GOLD"])],
                models=[ModelSpec("GOLD_CARD", "1", (name,), (1.0,))],
            )


def test_likelihood_bands():
    assert [likelihood_band(p) for p in (0.9, 0.70, 0.6999, 0.5, 0.49, 0.0)] == [
        "priority",
        "priority",
        "target",
        "target",
        "low",
        "low",
    ]


def test_sigmoid_is_stable_at_the_extremes():
    values = np.array([-1e6, -800.0, -1.0, 0.0, 1.0, 800.0, 1e6, np.nan])
    assert sigmoid_array(values).tolist() == pytest.approx(
        [0.0, 0.0, sigmoid(-1.0), 0.5, sigmoid(1.0), 1.0, 1.0, 0.0]
    )
    assert sigmoid(-1e6) == 0.0 and sigmoid(1e6) == 1.0 and sigmoid(float("nan")) == 0.0


@given(customers().map(lambda c: c))
@settings(max_examples=200)
def test_feature_vector_and_feature_matrix_agree(person):
    families = frozenset(FAMILIES[c] for c in person.holdings if c in FAMILIES)
    vector = build_feature_vector(person, FEATURES, families)
    matrix = build_feature_matrix(CustomerBatch.from_contexts([person]).source(FAMILIES), FEATURES)
    assert matrix.shape == (1, len(FEATURES))
    assert matrix[0].tolist() == list(vector)


def test_feature_vector_reads_profile_holdings_and_attributes():
    person = customer(
        age=30,
        income_band="high",
        holdings={"CURRENT_ACCOUNT"},
        attributes={"salary": 2500, "tier": "gold"},
        has_email=True,
    )
    families = frozenset({"deposits"})
    assert build_feature_vector(person, FEATURES, families) == (
        30.0,
        24.0,
        1.0,
        0.0,
        1.0,
        0.0,
        2500.0,
        1.0,
        1.0,
    )
    assert build_feature_vector(
        customer(age=None, attributes={"salary": "n/a"}), ("age", "attributes.salary")
    ) == (0.0, 0.0)
