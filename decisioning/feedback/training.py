"""Propensity models: one calibrated logistic model of P(accept) per product.

Trained on the response history with scikit-learn; exported as plain coefficients over
the engine's own feature names (``decisioning.engine.features``), so the engine scores
with the exact features the trainer saw, in single decisions and in batch. Protected
attributes are never features of a credit product: the trainer refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from compliance.versioning import bump_catalog_version
from core.exceptions import ValidationFailed
from decisioning.choices import ModelStatus, Outcome
from decisioning.decisions.snapshots import active_policy_spec
from decisioning.engine.batch import CustomerBatch
from decisioning.engine.features import build_feature_matrix
from decisioning.engine.fields import PRODUCT_FAMILIES
from decisioning.engine.scoring import protected_features
from decisioning.models import PropensityModel, Response
from decisioning.runs.loader import load_batch
from ledger.choices import AuditKind
from ledger.services import audit
from offers.models import Product

LABELLED = (Outcome.ACCEPT, Outcome.DECLINE, Outcome.DISMISS, Outcome.IMPRESSION)
MIN_ROWS = 200
MIN_POSITIVES = 20
MIN_AUC_TO_ACTIVATE = 0.55
CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class TrainingSet:
    features: tuple[str, ...]
    X: np.ndarray
    y: np.ndarray


def default_features(product: Product, batch: CustomerBatch) -> tuple[str, ...]:
    """Profile, bands, digital reach, numeric attributes and holdings — never the product
    itself or its family (accepting the offer makes the customer hold it: leakage)."""
    names = ["age", "tenure_months", "has_email", "has_phone"]
    for field in ("income_band", "risk_band", "segment"):
        column = batch.columns.get(field)
        categories = getattr(column, "categories", ()) if column is not None else ()
        names += [f"{field}={value}" for value in sorted(categories)]
    for key, column in sorted(batch.attributes.items()):
        if column.number.present.mean() > 0.5:
            names.append(f"attributes.{key}")
    names += [f"holds:{code}" for code in batch.product_codes if code != product.code]
    names += [f"holds_family:{family}" for family in PRODUCT_FAMILIES if family != product.family]
    return tuple(names)


def training_set(product: Product, features: tuple[str, ...] | None = None) -> TrainingSet:
    rows = list(
        Response.objects.filter(offer__product=product, outcome__in=LABELLED)
        .order_by("customer_id")
        .values_list("customer_id", "outcome")
    )
    if len(rows) < MIN_ROWS:
        raise ValidationFailed(
            f"{product.code} has {len(rows)} labelled responses; a model needs at least {MIN_ROWS}.",
            fields={"product": ["not enough response history"]},
        )
    customer_ids = np.fromiter((cid for cid, _ in rows), dtype=np.int64, count=len(rows))
    labels = np.fromiter((outcome == Outcome.ACCEPT for _, outcome in rows), dtype=np.float64)
    now = timezone.now()
    policy = active_policy_spec()
    matrices: list[np.ndarray] = []
    chosen = features
    unique_ids = np.unique(customer_ids)
    for start in range(0, len(unique_ids), CHUNK):
        ids = unique_ids[start : start + CHUNK]
        batch = load_batch(int(ids[0]), int(ids[-1]), now=now, policy=policy)
        if chosen is None:
            chosen = default_features(product, batch)
        source = batch.source({code: p.family for code, p in _families().items()})
        matrix = build_feature_matrix(source, chosen)
        in_chunk = customer_ids[(customer_ids >= ids[0]) & (customer_ids <= ids[-1])]
        matrices.append(matrix[np.searchsorted(batch.customer_ids, in_chunk)])
    assert chosen is not None
    return TrainingSet(chosen, np.vstack(matrices), labels)


def _families() -> dict[str, Product]:
    return {product.code: product for product in Product.objects.all()}


def fit(data: TrainingSet, *, seed: int = 0) -> dict[str, Any]:
    """Logistic regression on standardised features, Platt-calibrated on a holdout."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, roc_auc_score

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data.y))
    cut = int(len(order) * 0.8)
    train, holdout = order[:cut], order[cut:]
    mean = data.X[train].mean(axis=0)
    std = data.X[train].std(axis=0)
    std[std == 0] = 1.0
    scaled = (data.X - mean) / std
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(scaled[train], data.y[train])
    # Fold the standardisation into the coefficients: the engine scores raw features.
    coefficients = model.coef_[0] / std
    intercept = float(model.intercept_[0] - np.sum(model.coef_[0] * mean / std))
    z = data.X[holdout] @ coefficients + intercept
    platt = LogisticRegression(C=1e6, max_iter=1000)
    platt.fit(z.reshape(-1, 1), data.y[holdout])
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    calibrated = 1.0 / (1.0 + np.exp(-(a * z + b)))
    both_classes = len(np.unique(data.y[holdout])) == 2
    return {
        "coefficients": [float(c) for c in coefficients],
        "intercept": intercept,
        "calibration": {"a": a, "b": b},
        "metrics": {
            "auc": float(roc_auc_score(data.y[holdout], z)) if both_classes else None,
            "brier": float(brier_score_loss(data.y[holdout], calibrated)),
            "base_rate": float(data.y.mean()),
            "holdout_rows": len(holdout),
            "positives": int(data.y.sum()),
        },
    }


def model_train(
    *, actor: Any, product: Product, features: tuple[str, ...] | None = None, activate: bool = True
) -> PropensityModel:
    """Train, store and (when it beats chance clearly enough) activate a product's model."""
    if features is not None and product.is_credit and protected_features(features):
        raise ValidationFailed(
            "Protected attributes are never features of a credit product's model.",
            fields={"features": [f"protected: {', '.join(protected_features(features))}"]},
        )
    data = training_set(product, features)
    if product.is_credit and protected_features(data.features):
        raise ValidationFailed(
            "Protected attributes are never features of a credit product's model.",
            fields={"features": [f"protected: {', '.join(protected_features(data.features))}"]},
        )
    if data.y.sum() < MIN_POSITIVES:
        raise ValidationFailed(
            f"{product.code} has {int(data.y.sum())} acceptances; a model needs {MIN_POSITIVES}.",
            fields={"product": ["not enough acceptances"]},
        )
    fitted = fit(data)
    auc = fitted["metrics"]["auc"]
    with transaction.atomic():
        version = (
            PropensityModel.objects.filter(product=product)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
            or 0
        ) + 1
        model = PropensityModel(
            product=product,
            version=version,
            algorithm="logistic_regression+platt",
            feature_names=list(data.features),
            coefficients=fitted["coefficients"],
            intercept=fitted["intercept"],
            calibration=fitted["calibration"],
            metrics=fitted["metrics"],
            training_rows=len(data.y),
            trained_at=timezone.now(),
            trained_by=str(actor),
        )
        good_enough = auc is not None and auc >= MIN_AUC_TO_ACTIVATE
        if activate and good_enough:
            PropensityModel.objects.filter(product=product, status=ModelStatus.ACTIVE).update(
                status=ModelStatus.RETIRED
            )
            model.status = ModelStatus.ACTIVE
        model.full_clean()
        model.save()
        audit(
            kind=AuditKind.MODEL,
            action="model_activated" if model.status == ModelStatus.ACTIVE else "model_trained",
            actor=actor,
            object_type="propensity_model",
            object_id=model.pk,
            object_repr=f"{product.code} v{version}",
            data={
                "product": product.code,
                "version": version,
                "features": list(data.features),
                "metrics": fitted["metrics"],
                "status": model.status,
            },
        )
        if model.status == ModelStatus.ACTIVE:
            bump_catalog_version()
    return model


def models_train_all(*, actor: Any) -> dict[str, str]:
    """Train every product with enough history; the answer says what happened to each."""
    outcome: dict[str, str] = {}
    for product in Product.objects.filter(is_active=True).order_by("code"):
        try:
            model = model_train(actor=actor, product=product)
        except ValidationFailed as exc:
            outcome[product.code] = f"skipped: {exc.message}"
            continue
        auc = model.metrics.get("auc")
        outcome[product.code] = (
            f"v{model.version} {model.status} (AUC {auc:.3f})" if auc else model.status
        )
    return outcome
