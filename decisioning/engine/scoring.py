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

Likelihood bands (``bands``): the propensity read as "priority" (>= 0.70), "target"
(>= 0.50) or "low". ``ProductLikelihoods`` is what the rule language's
``likelihood("PRODUCT")`` reads: the product's model as scoring takes it (as of the
decision's clock, which engagement-history features read), else the
product's pooled smoothed acceptance rate (``product_prior``), never an exploration draw.

Cold start (``Exploration``): an offer shown fewer than ``max_presented`` times explores
in a ``share`` of decisions — its propensity is then a Thompson draw from its Beta
posterior ``Beta(accepted + 1, presented - accepted + 19)`` instead of the model's or the
smoothed rate, and ``ScoreFactors`` say so (``source="exploration"``, ``sampled``,
``posterior``, and ``exploited``: the propensity it replaced). Whether a decision explores
and what it draws come from a hash of (customer, offer, decision time), so the scalar and
batch engines agree and a replay at the same moment draws the same value.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import betaincinv  # type: ignore[import-untyped]

# the bands' thresholds, re-exported for the callers that read them here
from .bands import PRIORITY_BAND as PRIORITY_BAND
from .bands import TARGET_BAND as TARGET_BAND
from .bands import LikelihoodSeen, likelihood_band
from .features import (
    ScalarFeature,
    compile_feature,
    feature_column,
    feature_inputs,
    parse_feature,
)
from .fields import is_protected
from .hashing import BUCKETS, pair_hash, pair_hash_array
from .pages import is_page_pattern, page_matches
from .rules import ColumnSource
from .types import CustomerContext, ModelSpec, OfferSpec

PRIOR_ALPHA = 1.0
PRIOR_BETA = 19.0


class ScoreFactors(NamedTuple):
    propensity: float
    value: float
    lever: float
    context_weight: float
    source: str = "prior"  # "model", "prior" or "exploration"
    model_version: str | None = None
    # What gave the context weight ("event card_transaction", "page /loans/*"); None at 1.0
    context: str | None = None
    # exploration: the Thompson draw (also the propensity), its posterior ("Beta(3, 118)")
    # and the propensity the draw replaced (the model's or the smoothed rate)
    sampled: float | None = None
    posterior: str | None = None
    exploited: float | None = None

    @property
    def score(self) -> float:
        return combine(self.propensity, self.value, self.lever, self.context_weight)


def combine(propensity: float, value: float, lever: float, context_weight: float) -> float:
    return propensity * value * lever * context_weight


def _counts(offer: OfferSpec) -> tuple[int, int]:
    """(presented, accepted) of the offer's history, accepted clamped to 0..presented."""
    presented = max(offer.prior_presented, 0)
    return presented, min(max(offer.prior_accepted, 0), presented)


def smoothed_rate(presented: int, accepted: int) -> float:
    """Acceptance rate under the Beta(PRIOR_ALPHA, PRIOR_BETA) prior: 5 % with no history."""
    return (accepted + PRIOR_ALPHA) / (presented + PRIOR_ALPHA + PRIOR_BETA)


def prior_propensity(offer: OfferSpec) -> float:
    """Smoothed historical acceptance rate with the Beta(PRIOR_ALPHA, PRIOR_BETA) prior."""
    return smoothed_rate(*_counts(offer))


def product_prior(offers: Iterable[OfferSpec]) -> float:
    """A product's smoothed acceptance rate: its offers' histories pooled under the same
    prior as ``prior_propensity`` (an offer's own rate when it is the only one)."""
    presented = accepted = 0
    for offer in offers:
        shown, taken = _counts(offer)
        presented += shown
        accepted += taken
    return smoothed_rate(presented, accepted)


@dataclass(frozen=True, slots=True)
class Exploration:
    """Cold-start exploration: offers shown fewer than ``max_presented`` times are scored
    by a Thompson draw in a ``share`` (0-1) of decisions; share 0 turns it off."""

    share: float = 0.0
    max_presented: int = 200

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0 or not math.isfinite(self.share):
            raise ValueError(f"exploration share must be within 0 and 1, got {self.share!r}")
        if self.max_presented < 0:
            raise ValueError("exploration max_presented must be >= 0")

    @property
    def threshold(self) -> int:
        return round(self.share * BUCKETS)


EXPLORE_SALT = 0x4558504C4F5245  # "EXPLORE"
DRAW_SALT = 0x44524157  # "DRAW"
_exploration = Exploration()


def configure_exploration(exploration: Exploration) -> Exploration:
    """Set the process's exploration policy (the Django app does, from settings); returns
    the one it replaces."""
    global _exploration
    previous, _exploration = _exploration, exploration
    return previous


def exploration() -> Exploration:
    return _exploration


def _offer_key(offer_code: str, now_us: int) -> int:
    return (zlib.crc32(offer_code.encode()) << 32) ^ (now_us & 0xFFFFFFFFFFFF)


def posterior(offer: OfferSpec) -> tuple[float, float]:
    presented = max(offer.prior_presented, 0)
    accepted = min(max(offer.prior_accepted, 0), presented)
    return accepted + PRIOR_ALPHA, presented - accepted + PRIOR_BETA


def explores(offer: OfferSpec, policy: Exploration | None = None) -> bool:
    """Whether the offer has little enough history to explore at all."""
    policy = policy or _exploration
    return policy.threshold > 0 and offer.prior_presented < policy.max_presented


def thompson_draw(
    offer: OfferSpec, customer_id: int, now_us: int, policy: Exploration | None = None
) -> float | None:
    """The offer's Thompson draw for this customer and moment, or None when this decision
    does not explore it."""
    policy = policy or _exploration
    if not explores(offer, policy):
        return None
    key = _offer_key(offer.code, now_us)
    if pair_hash(key, customer_id, EXPLORE_SALT) % BUCKETS >= policy.threshold:
        return None
    u = (pair_hash(key, customer_id, DRAW_SALT) >> 11) * (1.0 / (1 << 53))
    a, b = posterior(offer)
    return float(betaincinv(a, b, u))


def thompson_draws(
    offer: OfferSpec, customer_ids: np.ndarray, now_us: int, policy: Exploration | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(bool: explores, float64 draws where it does) over a batch of customers."""
    policy = policy or _exploration
    size = len(customer_ids)
    if not explores(offer, policy):
        return np.zeros(size, dtype=bool), np.zeros(size)
    key = _offer_key(offer.code, now_us)
    ids = np.asarray(customer_ids, dtype=np.int64)
    buckets = pair_hash_array(key, ids, EXPLORE_SALT) % np.uint64(BUCKETS)
    chosen = buckets < np.uint64(policy.threshold)
    u = (pair_hash_array(key, ids, DRAW_SALT) >> np.uint64(11)).astype(np.float64) * (
        1.0 / (1 << 53)
    )
    a, b = posterior(offer)
    draws = np.zeros(size)
    if chosen.any():
        draws[chosen] = betaincinv(a, b, u[chosen])
    return chosen, draws


def explored(factors: ScoreFactors, offer: OfferSpec, draw: float) -> ScoreFactors:
    """The factors with the propensity replaced by an exploration draw."""
    a, b = posterior(offer)
    return factors._replace(
        propensity=draw,
        source="exploration",
        sampled=draw,
        posterior=f"Beta({a:g}, {b:g})",
        exploited=factors.propensity,
        model_version=factors.model_version,
    )


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

    def propensity(
        self, customer: CustomerContext, held_families: frozenset[str], now_us: int | None = None
    ) -> float:
        """One customer's calibrated propensity as of the decision's clock ``now_us``
        (epoch microseconds), which engagement-history features read: a model reading
        them raises ``ValueError`` without it."""
        z = float(self.spec.intercept)
        for coef, extract in self._extractors:
            z += coef * extract(customer, held_families, now_us)
        return sigmoid(self.spec.calibration_a * z + self.spec.calibration_b)

    def propensity_array(self, source: ColumnSource, now_us: int | None = None) -> np.ndarray:
        """A batch's propensities as of one clock (the same operations as ``propensity``)."""
        z = np.full(source.size, float(self.spec.intercept), dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            for coef, feature in zip(self.spec.coefficients, self._features, strict=True):
                z += float(coef) * feature_column(source, feature, now_us)
            return sigmoid_array(self.spec.calibration_a * z + self.spec.calibration_b)


class ProductLikelihoods:
    """What the rule language's ``likelihood("PRODUCT")`` reads, built once per snapshot
    (``snapshot.build_snapshot``): the product's propensity exactly as scoring takes it —
    the snapshot's compiled model of the product (its active model: retired and
    below-floor versions are never loaded), else the product's smoothed acceptance rate
    (``product_prior``). Never an exploration draw: a band is the model's view, not a
    decision's coin. A product the snapshot does not know has no likelihood (None), so
    every comparison on it is false."""

    __slots__ = ("evaluators", "fallback")

    def __init__(self, evaluators: Mapping[str, ModelEvaluator], fallback: Mapping[str, float]):
        self.evaluators = evaluators
        self.fallback = fallback

    def seen(
        self,
        product: str,
        customer: CustomerContext,
        held_families: frozenset[str],
        now_us: int | None = None,
    ) -> LikelihoodSeen | None:
        """What the term reads for one customer as of the decision's clock ``now_us``."""
        evaluator = self.evaluators.get(product)
        if evaluator is not None:
            propensity = evaluator.propensity(customer, held_families, now_us)
            return LikelihoodSeen(
                propensity, likelihood_band(propensity), "model", evaluator.spec.version
            )
        rate = self.fallback.get(product)
        if rate is None:
            return None
        return LikelihoodSeen(rate, likelihood_band(rate), "prior")

    def propensities(
        self, product: str, source: ColumnSource, now_us: int | None = None
    ) -> np.ndarray | None:
        """float64 propensities of a batch as of ``now_us`` (the same model or rate), None
        when unknown."""
        evaluator = self.evaluators.get(product)
        if evaluator is not None:
            return evaluator.propensity_array(source, now_us)
        rate = self.fallback.get(product)
        if rate is None:
            return None
        return np.full(source.size, rate, dtype=np.float64)


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
    """Feature names that read a protected attribute (refused for credit products); a
    forest is looked into, and the protected inputs it reads are named."""
    found: dict[str, None] = {}
    for name in names:
        for plain in feature_inputs(name):
            if is_protected(plain):
                found[plain] = None
    return tuple(found)
