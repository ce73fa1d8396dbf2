"""Reads of the model registry for the console's models page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from decisioning.choices import ModelStatus
from decisioning.models import ModelDriftCheck, PropensityModel
from offers.models import Product

from .drift import PSI_FLAG
from .registry import FOUR_FIFTHS, MIN_AUC


@dataclass(frozen=True, slots=True)
class ProductModels:
    product: Product
    active: PropensityModel | None
    newest: PropensityModel
    versions: int
    drift: ModelDriftCheck | None
    flags: list[str] = field(default_factory=list)

    @property
    def challenger(self) -> PropensityModel | None:
        """The newest version when it is not the active one (kept, not used)."""
        if self.active is None or self.newest.pk != self.active.pk:
            return self.newest
        return None


def _registry() -> QuerySet[PropensityModel]:
    return PropensityModel.objects.select_related("product").defer(
        "feature_names", "coefficients", "reference"
    )


def _flags(model: PropensityModel | None, drift: ModelDriftCheck | None) -> list[str]:
    flags = []
    if drift is not None and drift.flagged:
        flags.append(f"drift in {len(drift.flagged)} input(s)")
    if model is not None and (model.fairness or {}).get("flagged"):
        flags.append("four-fifths: " + ", ".join(model.fairness["flagged"]))
    return flags


def models_overview() -> list[ProductModels]:
    """Every product with a model: its active and newest versions and latest drift check
    (three queries)."""
    by_product: dict[int, list[PropensityModel]] = {}
    for model in _registry().order_by("product__code", "-version"):
        by_product.setdefault(model.product_id, []).append(model)
    active_ids = [m.pk for ms in by_product.values() for m in ms if m.status == ModelStatus.ACTIVE]
    latest: dict[int, ModelDriftCheck] = {}
    for check in ModelDriftCheck.objects.filter(model_id__in=active_ids).order_by(
        "model_id", "-checked_at"
    ):
        latest.setdefault(check.model_id, check)
    rows = []
    for models in by_product.values():
        active = next((m for m in models if m.status == ModelStatus.ACTIVE), None)
        drift = latest.get(active.pk) if active is not None else None
        rows.append(
            ProductModels(
                product=models[0].product,
                active=active,
                newest=models[0],
                versions=len(models),
                drift=drift,
                flags=_flags(active or models[0], drift),
            )
        )
    return rows


def product_models(code: str) -> tuple[Product, list[PropensityModel]] | None:
    product = Product.objects.filter(code=code).first()
    if product is None:
        return None
    return product, list(_registry().filter(product=product).order_by("-version"))


def drift_checks(model: PropensityModel, limit: int = 5) -> list[ModelDriftCheck]:
    return list(model.drift.order_by("-checked_at")[:limit])


CHART = 200  # the calibration chart's plot area, in SVG units


def calibration_points(model: PropensityModel) -> dict[str, Any]:
    """The calibration curve scaled to the chart: predicted (x) against observed (y),
    both on the same axis up to the largest value (so the diagonal is "perfect")."""
    curve = model.calibration_curve or []
    top = max([0.05, *(p["predicted"] for p in curve), *(p["observed"] for p in curve)])
    top = min(1.0, round(top * 1.1 + 0.005, 2))
    points = [
        {
            "x": round(p["predicted"] / top * CHART, 1),
            "y": round(CHART - p["observed"] / top * CHART, 1),
            "predicted": p["predicted"],
            "observed": p["observed"],
            "count": p["count"],
        }
        for p in curve
    ]
    ticks = [
        {
            "value": round(top * i / 4, 3),
            "at": round(CHART * i / 4, 1),
            "y": round(CHART - CHART * i / 4, 1),
        }
        for i in range(5)
    ]
    return {
        "points": points,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
        "ticks": ticks,
        "size": CHART,
        "top": top,
    }


def importance_bars(model: PropensityModel) -> list[dict[str, Any]]:
    items = [(name, value) for name, value in (model.feature_importance or []) if value > 0]
    top = max((v for _, v in items), default=0) or 1.0
    return [{"name": n, "value": v, "width": round(v / top * 100, 1)} for n, v in items]


THRESHOLDS = {"min_auc": MIN_AUC, "psi_flag": PSI_FLAG, "four_fifths": FOUR_FIFTHS}
