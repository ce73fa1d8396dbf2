"""A gradient-boosted model exported to arrays scores exactly as scikit-learn does."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from decisioning.engine import CustomerBatch, ModelSpec
from decisioning.engine.features import forest_feature_name, parse_feature
from decisioning.engine.scoring import ModelEvaluator, protected_features, sigmoid_array
from decisioning.learning.fitting import TREES, export_forest
from tests.engine.builders import customer

INPUTS = ("age", "attributes.salary", "income_band=high", "holds:CURRENT_ACCOUNT")


def _fitted(seed=0):
    rng = np.random.default_rng(seed)
    n = 3000
    X = np.column_stack(
        [
            rng.integers(18, 80, n),
            rng.uniform(500, 8000, n),
            rng.random(n) < 0.3,
            rng.random(n) < 0.5,
        ]
    ).astype(np.float64)
    logit = -1 + 0.0006 * (X[:, 1] - 3000) - 0.03 * (X[:, 0] - 45) + X[:, 2] * X[:, 3]
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return HistGradientBoostingClassifier(random_state=seed, **TREES).fit(X, y), X


def _people(X):
    return [
        customer(
            i + 1,
            age=int(row[0]),
            attributes={"salary": float(row[1])},
            income_band="high" if row[2] else "low",
            holdings={"CURRENT_ACCOUNT"} if row[3] else frozenset(),
        )
        for i, row in enumerate(X)
    ]


def test_exported_forest_gives_scikit_learns_margins_scalar_and_batch():
    model, X = _fitted()
    forest, baseline = export_forest(model, INPUTS)
    spec = ModelSpec(
        product_code="GOLD_CARD",
        version="1",
        feature_names=(forest_feature_name(forest),),
        coefficients=(1.0,),
        intercept=baseline,
        calibration_a=0.8,
        calibration_b=-0.2,
    )
    evaluator = ModelEvaluator(spec)
    sample = X[:300].copy()
    sample[:, 0] = np.round(sample[:, 0])
    people = _people(sample)
    expected = sigmoid_array(0.8 * model.decision_function(sample) - 0.2)
    scalar = np.array([evaluator.propensity(p, frozenset()) for p in people])
    batch = CustomerBatch.from_contexts(people, product_codes=("CURRENT_ACCOUNT",))
    vectorised = evaluator.propensity_array(batch.source({"CURRENT_ACCOUNT": "deposits"}))
    assert np.allclose(scalar, expected, rtol=0, atol=1e-12)
    assert np.allclose(vectorised, expected, rtol=0, atol=1e-12)


def test_a_malformed_forest_is_refused_with_what_is_wrong():
    model, _ = _fitted()
    forest, _ = export_forest(model, INPUTS)
    forest["left"][0] = 10**9
    with pytest.raises(ValueError, match="out of range"):
        forest_feature_name(forest)
    with pytest.raises(ValueError, match="not JSON"):
        parse_feature("forest:{nope")


def test_protected_inputs_inside_a_forest_are_found():
    model, _ = _fitted()
    forest, _ = export_forest(
        model, ("age", "attributes.gender=f", "income_band=high", "tenure_months")
    )
    assert protected_features((forest_feature_name(forest), "age")) == ("attributes.gender=f",)
