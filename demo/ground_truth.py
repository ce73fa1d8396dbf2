"""The truth behind the demo's response history: P(accept) per product.

Each product's acceptance is a logistic function of the customer's profile and holdings,
``P(accept) = sigmoid(intercept + sum(coefficient * feature) + offer_effect)``, over
features named exactly as ``decisioning.engine.features`` names them (raw units: age in
years, salary in EUR a month, tenure in months), so a model trained on the seeded
history can be checked against these numbers.

Two things to know when comparing:

- the history only shows an offer to customers who pass its eligibility rule and do not
  hold a product of its family, so coefficients on ``holds:`` a same-family product
  cannot be learnt (none is used here);
- ``attributes.salary`` is missing (0.0 as a feature) for customers whose salary is not
  paid into the bank, which is part of the signal.

Base rates over the exposed customers fall between about 2% and 15%.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from decisioning.engine.features import build_feature_matrix
from decisioning.engine.rules import ColumnSource


@dataclass(frozen=True, slots=True)
class AcceptanceTruth:
    product_code: str
    intercept: float
    coefficients: Mapping[str, float]

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.coefficients)

    def logit(self, source: ColumnSource) -> np.ndarray:
        names = self.feature_names
        weights = np.array([self.coefficients[name] for name in names], dtype=np.float64)
        return self.intercept + build_feature_matrix(source, names) @ weights


def _truth(product_code: str, intercept: float, coefficients: dict[str, float]) -> AcceptanceTruth:
    return AcceptanceTruth(product_code, intercept, MappingProxyType(coefficients))


GROUND_TRUTH: Mapping[str, AcceptanceTruth] = MappingProxyType(
    {
        truth.product_code: truth
        for truth in (
            _truth(
                "CLASSIC_CARD",
                -3.5,
                {
                    "age": -0.04,
                    "attributes.salary": 0.0009,
                    "tenure_months": 0.003,
                    "income_band=low": -0.8,
                    "holds:OVERDRAFT": 1.2,
                    "holds_family:mortgages": 0.7,
                },
            ),
            _truth(
                "GOLD_CARD",
                -5.9,
                {
                    "age": 0.02,
                    "attributes.salary": 0.0004,
                    "income_band=affluent": 1.4,
                    "holds:TRAVEL_INSURANCE": 1.4,
                    "holds_family:investments": 1.1,
                },
            ),
            _truth(
                "FUEL_CARD",
                -2.4,
                {
                    "age": -0.03,
                    "attributes.salary": 0.0006,
                    "holds:CAR_LOAN": 1.6,
                    "region=Lisbon": -0.9,
                },
            ),
            _truth(
                "TRAVEL_CARD",
                -1.05,
                {
                    "age": -0.06,
                    "holds:TRAVEL_INSURANCE": 1.8,
                    "income_band=high": 0.8,
                    "income_band=affluent": 1.1,
                },
            ),
            _truth(
                "PERSONAL_LOAN",
                -1.9,
                {
                    "age": -0.05,
                    "tenure_months": 0.004,
                    "income_band=middle": 0.7,
                    "holds:CLASSIC_CARD": 1.2,
                    "holds_family:mortgages": -0.9,
                },
            ),
            _truth(
                "CAR_LOAN",
                -3.65,
                {
                    "age": -0.035,
                    "attributes.salary": 0.0007,
                    "holds:FUEL_CARD": 1.8,
                    "segment=youth": 0.9,
                },
            ),
            _truth(
                "OVERDRAFT",
                -0.55,
                {
                    "age": -0.05,
                    "attributes.salary": -0.0004,
                    "holds:CLASSIC_CARD": 1.1,
                    "tenure_months": -0.004,
                },
            ),
            _truth(
                "MORTGAGE_VARIABLE",
                -1.0,
                {
                    "age": -0.09,
                    "attributes.children": 0.6,
                    "income_band=affluent": 0.9,
                    "holds_family:deposits": 0.8,
                },
            ),
            _truth(
                "MORTGAGE_FIXED",
                -1.4,
                {
                    "age": -0.07,
                    "attributes.children": 0.55,
                    "holds:SAVINGS_ACCOUNT": 0.9,
                    "risk_band=medium": -0.8,
                },
            ),
            _truth(
                "MORTGAGE_SWITCH",
                -3.75,
                {
                    "age": -0.04,
                    "tenure_months": 0.007,
                    "attributes.salary": 0.0008,
                },
            ),
            _truth(
                "SAVINGS_ACCOUNT",
                -5.0,
                {
                    "age": 0.03,
                    "attributes.salary": 0.0007,
                    "tenure_months": 0.004,
                    "segment=youth": 1.0,
                    "holds_family:investments": 1.2,
                },
            ),
            _truth(
                "TERM_DEPOSIT",
                -6.0,
                {
                    "age": 0.06,
                    "tenure_months": 0.004,
                    "income_band=low": -1.0,
                    "holds_family:investments": 1.0,
                },
            ),
            _truth(
                "JUNIOR_SAVINGS",
                -2.65,
                {
                    "age": -0.04,
                    "attributes.children": 0.9,
                    "income_band=high": 0.6,
                    "holds_family:insurance": 0.8,
                },
            ),
            _truth(
                "HOME_INSURANCE",
                -4.35,
                {
                    "age": 0.02,
                    "tenure_months": 0.004,
                    "holds_family:mortgages": 2.2,
                },
            ),
            _truth(
                "LIFE_INSURANCE",
                -1.9,
                {
                    "age": -0.04,
                    "attributes.children": 0.7,
                    "holds_family:mortgages": 1.8,
                },
            ),
            _truth(
                "TRAVEL_INSURANCE",
                -2.05,
                {
                    "age": -0.03,
                    "holds:TRAVEL_CARD": 2.0,
                    "holds:GOLD_CARD": -1.5,
                    "income_band=high": 0.8,
                },
            ),
            _truth(
                "INVESTMENT_FUNDS",
                -5.65,
                {
                    "age": 0.04,
                    "income_band=affluent": 1.4,
                    "holds_family:deposits": 1.0,
                },
            ),
            _truth(
                "PENSION_PLAN",
                -7.85,
                {
                    "age": 0.08,
                    "attributes.salary": 0.0006,
                    "holds:LIFE_INSURANCE": 1.0,
                },
            ),
            _truth(
                "BROKERAGE_ACCOUNT",
                -0.55,
                {
                    "age": -0.08,
                    "income_band=affluent": 1.2,
                    "holds:TRAVEL_CARD": 1.0,
                },
            ),
        )
    }
)

# Offer-level shifts on top of the product's logit: the A/B test's arm B converts better.
OFFER_EFFECTS: Mapping[str, float] = MappingProxyType(
    {"FUEL_CARD_CASHBACK_B": 0.35, "SAVINGS_RETENTION": 0.2}
)


def acceptance_probability(
    source: ColumnSource, product_code: str, offer_code: str = ""
) -> np.ndarray:
    """P(accept) of every customer in ``source`` if shown the offer (product's truth)."""
    truth = GROUND_TRUTH[product_code]
    logit = truth.logit(source) + OFFER_EFFECTS.get(offer_code, 0.0)
    return 1.0 / (1.0 + np.exp(-logit))
