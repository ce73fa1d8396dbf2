"""Fitting, calibrating and measuring one product's candidates.

Two algorithms are tried on the same rows: L2-regularised logistic regression on
standardised features and HistGradientBoosting (shallow trees). The training part is
split again: a model is fitted on its first part and Platt-calibrated on the rest (the
most recent rows when the history has dates); the model exported is then refitted, with
the same settings, on the whole training part and keeps that calibration (``refit``), so
no training row is spent on calibration only. Both are measured on the held-out part —
the most recent 20 % when the history has dates, a random 20 % of the responses otherwise
— which neither fit nor calibration reads. The better on held-out ROC AUC (then Brier
score) is the product's new version.

A random hold-out is a function of each row's stable identity, not of a draw: a response
is held out when the hash of its primary key under the split's salt falls in the lowest
``HOLDOUT_SHARE`` of the buckets (``held_out``). The salt is recorded on the version, and
a later training reusing it holds out the same responses (plus its share of the new ones),
so the active version can be measured on rows it never learnt from.

Each candidate is exported as what the engine scores: ``sigmoid(a * (intercept + w . x)
+ b)`` over engine feature names. A tree model is one ``forest:`` feature (its margin,
coefficient 1), evaluated by ``decisioning.engine.features.Forest`` as flat node arrays —
no scikit-learn at decision time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from decisioning.engine.features import forest_feature_name
from decisioning.engine.hashing import BUCKETS, MASK64, mix64, pair_hash_array
from decisioning.engine.scoring import sigmoid_array

if TYPE_CHECKING:
    from .dataset import TrainingSet

HOLDOUT_SHARE = 0.2
CALIBRATION_SHARE = 0.15
LOGISTIC_C = 1.0
TREES = {
    "max_iter": 150,
    "max_depth": 4,
    "learning_rate": 0.1,
    "l2_regularization": 1.0,
    "early_stopping": False,
}
CURVE_BINS = 10
IMPORTANCE_ROWS = 5_000
IMPORTANCE_TOP = 15
SPLIT_SALT = 0x53504C4954  # "SPLIT"


def split_salt(seed: int) -> int:
    """The hold-out salt of a training with ``seed`` and no salt to reuse (53 bits, exact
    in JSON)."""
    return mix64((seed ^ SPLIT_SALT) & MASK64) >> 11


def held_out(response_ids: np.ndarray, salt: int) -> np.ndarray:
    """Whether each response (by primary key) is in the random hold-out of ``salt``:
    the same answer for a response whatever other rows the history holds."""
    ids = np.asarray(response_ids, dtype=np.int64)
    buckets = pair_hash_array(salt & MASK64, ids, SPLIT_SALT) % np.uint64(BUCKETS)
    return buckets < np.uint64(round(HOLDOUT_SHARE * BUCKETS))


@dataclass(frozen=True, slots=True)
class Split:
    fit: np.ndarray
    calibrate: np.ndarray
    holdout: np.ndarray
    method: str  # "time" or "random"
    salt: int | None = None  # a random hold-out's salt (``held_out``)

    @property
    def training(self) -> np.ndarray:
        """Every row a model may learn from: the fit and calibration parts."""
        return np.concatenate([self.fit, self.calibrate])


@dataclass(frozen=True, slots=True)
class Exported:
    """A fitted model as the engine scores it, with its held-out figures."""

    algorithm: str
    feature_names: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    calibration: Mapping[str, float]
    auc: float | None
    brier: float
    curve: list[dict[str, float]]
    importance: list[tuple[str, float]]
    holdout_probability: np.ndarray = field(repr=False)

    def figures(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "auc": self.auc, "brier": self.brier}


def split(data: TrainingSet, *, seed: int = 0, salt: int | None = None) -> Split:
    """Held-out: the most recent share when the rows have dates, else the responses
    ``held_out`` under ``salt`` (``split_salt(seed)`` when None); the calibration part is
    the most recent share of the rest, or a random one drawn with ``seed``."""
    n = len(data.y)
    if data.has_dates:
        order = np.arange(n)  # rows are in time order
        cut = round(n * (1 - HOLDOUT_SHARE))
        cal = round(cut * (1 - CALIBRATION_SHARE))
        return Split(order[:cal], order[cal:cut], order[cut:], "time")
    if len(data.response_ids) != n:
        raise ValueError("a random hold-out needs every row's response id")
    salt = split_salt(seed) if salt is None else int(salt)
    held = held_out(data.response_ids, salt)
    rng = np.random.default_rng(seed)
    train = rng.permutation(np.flatnonzero(~held))
    cal = round(len(train) * (1 - CALIBRATION_SHARE))
    return Split(train[:cal], train[cal:], np.flatnonzero(held), "random", salt)


def platt(margin: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: P = sigmoid(a * margin + b) fitted on the calibration rows."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        return 1.0, 0.0
    model = LogisticRegression(C=1e6, max_iter=1000)
    model.fit(margin.reshape(-1, 1), y)
    return float(model.coef_[0][0]), float(model.intercept_[0])


def measure(y: np.ndarray, probability: np.ndarray) -> tuple[float | None, float, list]:
    """(ROC AUC or None with one class, Brier score, calibration curve)."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    auc = float(roc_auc_score(y, probability)) if len(np.unique(y)) == 2 else None
    brier = float(brier_score_loss(y, probability)) if len(y) else float("nan")
    return auc, brier, calibration_curve(y, probability)


def calibration_curve(y: np.ndarray, probability: np.ndarray) -> list[dict[str, float]]:
    """Equal-count bins: mean predicted probability against the observed acceptance rate."""
    if not len(y):
        return []
    order = np.argsort(probability, kind="stable")
    curve = []
    for part in np.array_split(order, min(CURVE_BINS, len(order))):
        if len(part):
            curve.append(
                {
                    "predicted": float(probability[part].mean()),
                    "observed": float(y[part].mean()),
                    "count": len(part),
                }
            )
    return curve


def propensity(
    matrix: np.ndarray, coefficients: Sequence[float], intercept: float, a: float, b: float
) -> np.ndarray:
    """What the engine computes, over a matrix of the model's own feature columns."""
    z = matrix @ np.asarray(coefficients, dtype=np.float64) + intercept
    return sigmoid_array(a * z + b)


def _importance(
    predict: Any, X: np.ndarray, y: np.ndarray, names: Sequence[str], seed: int
) -> list[tuple[str, float]]:
    """Permutation importance: the held-out AUC lost when a feature is shuffled."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return []
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(y))[:IMPORTANCE_ROWS]
    X, y = X[rows], y[rows]
    if len(np.unique(y)) < 2:
        return []
    base = roc_auc_score(y, predict(X))
    scores = []
    for j, name in enumerate(names):
        if np.ptp(X[:, j]) == 0:
            continue
        shuffled = X.copy()
        shuffled[:, j] = rng.permutation(shuffled[:, j])
        scores.append((name, float(base - roc_auc_score(y, predict(shuffled)))))
    scores.sort(key=lambda item: -item[1])
    return [(name, round(value, 5)) for name, value in scores[:IMPORTANCE_TOP]]


def refits(parts: Split) -> bool:
    """Whether the exported model is refitted on the whole training part: when the
    calibration rows are a random share of it. With dates they are its most recent rows,
    and the model is kept as fitted before them, so its calibration stays measured on
    rows it never saw, as the hold-out will be."""
    return parts.method == "random"


def fit_logistic(data: TrainingSet, parts: Split, *, seed: int = 0) -> Exported:
    from sklearn.linear_model import LogisticRegression

    X, y = data.X, data.y

    def fitted(rows: np.ndarray) -> tuple[np.ndarray, float]:
        mean = X[rows].mean(axis=0)
        std = X[rows].std(axis=0)
        std[std == 0] = 1.0
        model = LogisticRegression(C=LOGISTIC_C, max_iter=3000)
        model.fit((X[rows] - mean) / std, y[rows])
        # the standardisation folded into the coefficients: the engine scores raw features
        coefficients = model.coef_[0] / std
        return coefficients, float(model.intercept_[0] - np.sum(model.coef_[0] * mean / std))

    coefficients, intercept = fitted(parts.fit)
    a, b = platt(X[parts.calibrate] @ coefficients + intercept, y[parts.calibrate])
    if refits(parts):
        coefficients, intercept = fitted(parts.training)
    holdout = propensity(X[parts.holdout], coefficients, intercept, a, b)
    auc, brier, curve = measure(y[parts.holdout], holdout)
    return Exported(
        algorithm="logistic_regression",
        feature_names=data.features,
        coefficients=tuple(float(c) for c in coefficients),
        intercept=intercept,
        calibration={"method": "platt", "a": a, "b": b},
        auc=auc,
        brier=brier,
        curve=curve,
        importance=_importance(
            lambda M: M @ coefficients, X[parts.holdout], y[parts.holdout], data.features, seed
        ),
        holdout_probability=holdout,
    )


def export_forest(model: Any, inputs: Sequence[str]) -> tuple[dict[str, Any], float]:
    """A fitted binary HistGradientBoostingClassifier as flat node arrays and its
    baseline (the margin before any tree). Leaves point to themselves."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    roots: list[int] = []
    depth = 0
    for predictors in model._predictors:  # one list per iteration; one tree for binary
        nodes = predictors[0].nodes
        offset = len(feature)
        roots.append(offset)
        for i, node in enumerate(nodes):
            if node["is_leaf"]:
                feature.append(0)
                threshold.append(float("inf"))
                left.append(offset + i)
                right.append(offset + i)
                value.append(float(node["value"]))
            else:
                if node["is_categorical"]:
                    raise ValueError("categorical splits are not exported")
                feature.append(int(node["feature_idx"]))
                threshold.append(float(node["num_threshold"]))
                left.append(offset + int(node["left"]))
                right.append(offset + int(node["right"]))
                value.append(0.0)
            depth = max(depth, int(node["depth"]))
    data = {
        "inputs": list(inputs),
        "feature": feature,
        "threshold": [t if np.isfinite(t) else 1e308 for t in threshold],
        "left": left,
        "right": right,
        "value": value,
        "roots": roots,
        "depth": depth,
    }
    return data, float(np.ravel(model._baseline_prediction)[0])


def fit_trees(data: TrainingSet, parts: Split, *, seed: int = 0) -> Exported:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = data.X, data.y
    model = HistGradientBoostingClassifier(random_state=seed, **TREES)
    model.fit(X[parts.fit], y[parts.fit])
    a, b = platt(model.decision_function(X[parts.calibrate]), y[parts.calibrate])
    if refits(parts):
        model = HistGradientBoostingClassifier(random_state=seed, **TREES)
        model.fit(X[parts.training], y[parts.training])
    forest, baseline = export_forest(model, data.features)
    name = forest_feature_name(forest)
    holdout = sigmoid_array(a * model.decision_function(X[parts.holdout]) + b)
    auc, brier, curve = measure(y[parts.holdout], holdout)
    return Exported(
        algorithm="hist_gradient_boosting",
        feature_names=(name,),
        coefficients=(1.0,),
        intercept=baseline,
        calibration={"method": "platt", "a": a, "b": b},
        auc=auc,
        brier=brier,
        curve=curve,
        importance=_importance(
            model.decision_function, X[parts.holdout], y[parts.holdout], data.features, seed
        ),
        holdout_probability=holdout,
    )


def better(first: Exported, second: Exported) -> Exported:
    """Higher held-out AUC wins; equal AUC, lower Brier; then the simpler (first)."""
    a = -1.0 if first.auc is None else first.auc
    b = -1.0 if second.auc is None else second.auc
    if b > a or (b == a and second.brier < first.brier):
        return second
    return first


def fit_candidates(
    data: TrainingSet, *, seed: int = 0, salt: int | None = None
) -> tuple[Split, list[Exported]]:
    parts = split(data, seed=seed, salt=salt)
    return parts, [fit_logistic(data, parts, seed=seed), fit_trees(data, parts, seed=seed)]
