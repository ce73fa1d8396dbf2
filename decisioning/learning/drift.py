"""The population stability index of a model's inputs, training data against today.

At training, each input's distribution over the training rows is kept as bins
(``reference_bins``: decile edges of a number, the values of a 0/1 column). The check
(``model_drift_check``) bins the customers the engine scored recently — those with a
decision in the last ``CROSSSELL_DRIFT_WINDOW_DAYS`` — on the same edges and computes

    PSI = sum over bins of (recent - training) * ln(recent / training)

with shares floored at 1e-4. An input past ``PSI_FLAG`` (0.2, the usual "significant
shift") is flagged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from decisioning.engine.features import build_feature_matrix
from decisioning.engine.timeutil import to_us
from decisioning.models import Decision, ModelDriftCheck, PropensityModel
from ledger.choices import AuditKind
from ledger.services import audit

from .dataset import feature_chunks

PSI_FLAG = 0.2
BINS = 10
FLOOR = 1e-4
MAX_CUSTOMERS = 20_000


def reference_bins(column: np.ndarray) -> dict[str, list[float]]:
    """Interior edges (deciles, deduplicated) and the share of rows in each bin."""
    column = np.asarray(column, dtype=np.float64)
    edges = np.unique(np.quantile(column, np.linspace(0, 1, BINS + 1)[1:-1])) if len(column) else []
    shares = _shares(column, np.asarray(edges))
    return {"edges": [float(e) for e in edges], "shares": [float(s) for s in shares]}


def _shares(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, column, side="right"), minlength=len(edges) + 1)
    return counts / max(len(column), 1)


def psi(reference: dict[str, list[float]], column: np.ndarray) -> float:
    expected = np.maximum(np.asarray(reference["shares"], dtype=np.float64), FLOOR)
    actual = np.maximum(
        _shares(np.asarray(column, dtype=np.float64), np.asarray(reference["edges"])), FLOOR
    )
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def reference_for(inputs: tuple[str, ...], X: np.ndarray) -> dict[str, Any]:
    return {name: reference_bins(X[:, j]) for j, name in enumerate(inputs)}


def recently_scored(since: datetime, limit: int = MAX_CUSTOMERS) -> np.ndarray:
    """Ids of customers with a decision since ``since`` (the newest ``limit``), sorted."""
    ids = (
        Decision.objects.filter(created_at__gte=since)
        .order_by("-created_at")
        .values_list("customer_id", flat=True)[: limit * 4]
    )
    unique = np.unique(np.fromiter(ids, dtype=np.int64))
    return unique[-limit:]


def model_drift_check(
    *, actor: Any, model: PropensityModel, now: datetime | None = None
) -> ModelDriftCheck | None:
    """PSI per input between the model's training data and the recently scored customers;
    None when nobody was scored in the window or the model kept no reference."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.CROSSSELL_DRIFT_WINDOW_DAYS)
    inputs = tuple(model.inputs)
    if not inputs or not model.reference:
        return None
    ids = recently_scored(since)
    if not len(ids):
        return None
    blocks = [
        build_feature_matrix(source, inputs, now_us=to_us(now))[rows]
        for rows, _, source in feature_chunks(ids, now=now)
    ]
    matrix = np.vstack(blocks)
    values = {
        name: round(psi(model.reference[name], matrix[:, j]), 5)
        for j, name in enumerate(inputs)
        if name in model.reference
    }
    flagged = sorted((n for n, v in values.items() if v > PSI_FLAG), key=lambda n: -values[n])
    with transaction.atomic():
        check = ModelDriftCheck(
            model=model,
            checked_at=now,
            window_start=since,
            scored_customers=len(ids),
            psi=values,
            flagged=flagged,
            max_psi=max(values.values()) if values else None,
        )
        check.full_clean()
        check.save()
        if flagged:
            audit(
                kind=AuditKind.MODEL,
                action="model_drift_flagged",
                actor=actor,
                object_type="propensity_model",
                object_id=model.pk,
                object_repr=f"{model.product.code} v{model.version}",
                data={"flagged": {n: values[n] for n in flagged}, "customers": len(ids)},
            )
    return check


def models_drift_check(*, actor: Any, now: datetime | None = None) -> dict[str, str]:
    """Check every active model; the answer says what was found per product."""
    outcome: dict[str, str] = {}
    for model in PropensityModel.objects.filter(status="active").select_related("product"):
        check = model_drift_check(actor=actor, model=model, now=now)
        if check is None:
            outcome[model.product.code] = "no recently scored customers"
        elif check.flagged:
            outcome[model.product.code] = "drift: " + ", ".join(check.flagged)
        else:
            outcome[model.product.code] = f"stable (max PSI {check.max_psi:.3f})"
    return outcome
