"""``score = propensity x value x lever x context_weight``, every factor recorded.

- propensity: the calibrated P(accept) of the product's model,
  ``sigmoid(a * (intercept + w . x) + b)`` (Platt scaling, identity when a=1, b=0);
  with no model, the offer's smoothed acceptance rate under a Beta(1, 19) prior:
  ``(accepted + 1) / (presented + 20)``, i.e. 5% before any history;
- value: the offer's value, or its product's expected annual value;
- lever: the offer's business priority;
- context_weight: how relevant the signal is to the offer, from the offer's trigger
  weights: ``trigger_weights[event_type]`` for the triggering (or inbound context) event
  type, and ``trigger_weights[pattern]`` for each page pattern (a key starting with
  ``/``, see ``pages``) the customer's page matches; the largest of those that apply,
  1.0 when none does. ``ScoreFactors.context`` names the one that gave it
  (``event card_transaction``, ``page /loans/* (/loans/personal)``).

The products are taken in that order, so scalar and vectorised scores are the same
floating-point operations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .features import ScalarFeature, compile_feature, feature_column, parse_feature
from .fields import is_protected
from .pages import is_page_pattern, page_matches
from .rules import ColumnSource
from .types import CustomerContext, ModelSpec, OfferSpec

PRIOR_ALPHA = 1.0
PRIOR_BETA = 19.0

PRIORITY_BAND = 0.70
TARGET_BAND = 0.50


class ScoreFactors(NamedTuple):
    propensity: float
    value: float
    lever: float
    context_weight: float
    source: str = "prior"  # "model" or "prior"
    model_version: str | None = None
    # What gave the context weight ("event card_transaction", "page /loans/*"); None at 1.0
    context: str | None = None

    @property
    def score(self) -> float:
        return combine(self.propensity, self.value, self.lever, self.context_weight)


def combine(propensity: float, value: float, lever: float, context_weight: float) -> float:
    return propensity * value * lever * context_weight


def likelihood_band(propensity: float) -> str:
    """>= 0.70 "priority", >= 0.50 "target", else "low"."""
    if propensity >= PRIORITY_BAND:
        return "priority"
    if propensity >= TARGET_BAND:
        return "target"
    return "low"


def prior_propensity(offer: OfferSpec) -> float:
    """Smoothed historical acceptance rate with the Beta(PRIOR_ALPHA, PRIOR_BETA) prior."""
    presented = max(offer.prior_presented, 0)
    accepted = min(max(offer.prior_accepted, 0), presented)
    return (accepted + PRIOR_ALPHA) / (presented + PRIOR_ALPHA + PRIOR_BETA)


def sigmoid(value: float) -> float:
    if value != value:
        return 0.0
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


def sigmoid_array(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        positive = values >= 0
        exp = np.exp(np.where(positive, -values, values))
        result = np.where(positive, 1.0 / (1.0 + exp), exp / (1.0 + exp))
    return np.where(np.isnan(result), 0.0, result)


class ModelEvaluator:
    """A ``ModelSpec`` compiled once: feature extractors for scalar and batch use."""

    __slots__ = ("_extractors", "_features", "spec")

    def __init__(self, spec: ModelSpec) -> None:
        if len(spec.feature_names) != len(spec.coefficients):
            raise ValueError(
                f"model {spec.product_code} v{spec.version}: {len(spec.feature_names)} features "
                f"but {len(spec.coefficients)} coefficients"
            )
        values = (*spec.coefficients, spec.intercept, spec.calibration_a, spec.calibration_b)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"model {spec.product_code} v{spec.version}: non-finite parameter")
        self.spec = spec
        self._features = tuple(parse_feature(name) for name in spec.feature_names)
        extractors: list[tuple[float, ScalarFeature]] = [
            (float(coef), compile_feature(feature))
            for coef, feature in zip(spec.coefficients, self._features, strict=True)
        ]
        self._extractors = tuple(extractors)

    def propensity(self, customer: CustomerContext, held_families: frozenset[str]) -> float:
        z = float(self.spec.intercept)
        for coef, extract in self._extractors:
            z += coef * extract(customer, held_families)
        return sigmoid(self.spec.calibration_a * z + self.spec.calibration_b)

    def propensity_array(self, source: ColumnSource) -> np.ndarray:
        z = np.full(source.size, float(self.spec.intercept), dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            for coef, feature in zip(self.spec.coefficients, self._features, strict=True):
                z += float(coef) * feature_column(source, feature)
            return sigmoid_array(self.spec.calibration_a * z + self.spec.calibration_b)


def context_factor(
    offer: OfferSpec, event_type: str | None, page: str | None = None
) -> tuple[float, str | None]:
    """The offer's context weight for this signal and what gave it (see the module
    docstring); ``page`` is a path (``pages.page_path``)."""
    weights = offer.trigger_weights
    best: tuple[float, str | None] = (1.0, None)
    found = False
    if event_type is not None and event_type in weights:
        best, found = (float(weights[event_type]), f"event {event_type}"), True
    if page is not None:
        for key, weight in weights.items():
            better = not found or float(weight) > best[0]
            if better and is_page_pattern(key) and page_matches(key, page):
                best, found = (float(weight), f"page {key} ({page})"), True
    return best


def context_weight(offer: OfferSpec, event_type: str | None, page: str | None = None) -> float:
    return context_factor(offer, event_type, page)[0]


def protected_features(names: Sequence[str]) -> tuple[str, ...]:
    """Feature names that read a protected attribute (refused for credit products)."""
    return tuple(name for name in names if is_protected(name))
