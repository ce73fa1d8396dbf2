"""A registry row as the engine's ``ModelSpec``."""

from __future__ import annotations

from decisioning.engine.scoring import ModelEvaluator
from decisioning.engine.types import ModelSpec
from decisioning.models import PropensityModel


def model_spec(row: PropensityModel) -> ModelSpec:
    calibration = row.calibration or {}
    return ModelSpec(
        product_code=row.product.code,
        version=str(row.version),
        feature_names=tuple(row.feature_names),
        coefficients=tuple(float(c) for c in row.coefficients),
        intercept=float(row.intercept),
        calibration_a=float(calibration.get("a", 1.0)),
        calibration_b=float(calibration.get("b", 0.0)),
    )


def evaluator(row: PropensityModel) -> ModelEvaluator:
    return ModelEvaluator(model_spec(row))
