"""The model registry: train a product's next version, champion against challenger.

``model_train`` fits both algorithms (``fitting``), keeps the better as version N+1 with
its training window, rows, inputs, held-out AUC and Brier score, calibration curve,
feature importance and (credit products) fair-lending ratios, then decides:

- below the floor (held-out AUC < ``MIN_AUC``) it never scores;
- with an active version, both are scored on the *same* rows, which neither learnt from:
  the new hold-out's rows the active version never trained on (``unseen_by``: its own
  random hold-out, by the salt it recorded; the rows after its training part, for a time
  split; the rows after its window). A new training reuses the active version's salt, so
  these are the whole hold-out; with another salt they are the rows held out by both.
  The new one becomes active only if its AUC on them is higher (equal AUC: lower Brier).
  Otherwise it is kept as a candidate and ``status_reason`` says what it lost to; with
  fewer than ``MIN_COMPARED_ROWS`` such rows there is no fair comparison and it is not
  promoted, with that reason. ``challenged`` records what the comparison used. An active
  version that falls below the floor on those rows is retired, and the product goes back
  to its offers' smoothed acceptance rate.

Every outcome is audited (``model_activated``, ``model_trained``, ``model_retired``) and
an activation bumps the catalog version, so the engine's snapshot picks it up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from compliance.versioning import bump_catalog_version
from core.exceptions import ValidationFailed
from decisioning.choices import ModelStatus
from decisioning.engine.scoring import PRIORITY_BAND, TARGET_BAND
from decisioning.models import PropensityModel
from ledger.choices import AuditKind
from ledger.services import audit
from offers.models import Product

from .dataset import TrainingSet, training_set
from .drift import reference_for
from .features import refuse_unscored
from .fitting import (
    HOLDOUT_SHARE,
    Exported,
    Split,
    better,
    fit_candidates,
    held_out,
    measure,
    propensity,
)

MIN_AUC = 0.55
FOUR_FIFTHS = 0.8
MIN_GROUP_ROWS = 30
# the share of held-out customers a credit model "approves" (its top scores) when the
# fair-lending ratios are computed; at least everyone at or above the target band
APPROVED_SHARE = 0.2
# fewer held-out rows than this that the active version never learnt from: no fair
# comparison, the new version is not promoted
MIN_COMPARED_ROWS = 50


def _finite(value: float | None) -> float | None:
    return value if value is not None and np.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Champion:
    """The active version against the new one, both on ``rows`` held-out rows neither
    learnt from (``auc``/``brier``: the active version's; ``challenger_*``: the new's)."""

    model: PropensityModel
    auc: float | None
    brier: float
    rows: int = 0
    challenger_auc: float | None = None
    challenger_brier: float = float("nan")
    compared: dict[str, Any] = field(default_factory=dict)

    @property
    def fair(self) -> bool:
        return self.rows >= MIN_COMPARED_ROWS

    def record(self) -> dict[str, Any]:
        """What ``challenged`` keeps: the figures and the rows they were measured on (a
        figure of no rows is None: JSON has no NaN)."""
        return {
            "version": self.model.version,
            "auc": _finite(self.auc),
            "brier": _finite(self.brier),
            "rows": self.rows,
            "challenger_auc": _finite(self.challenger_auc),
            "challenger_brier": _finite(self.challenger_brier),
            "fair": self.fair,
            **self.compared,
        }


def _next_version(product: Product) -> int:
    last = (
        PropensityModel.objects.filter(product=product)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    return (last or 0) + 1


def split_record(data: TrainingSet, parts: Split) -> dict[str, Any]:
    """How a version's hold-out was drawn, enough to know later which rows it learnt from
    (``metrics["split"]``): a random split's salt, a time split's last training row."""
    record: dict[str, Any] = {"method": parts.method, "share": HOLDOUT_SHARE}
    if parts.method == "random":
        record["salt"] = parts.salt
    elif len(parts.training):
        last = int(parts.training.max())  # rows are in (time, pk) order
        record["trained_through"] = {
            "occurred_at": str(data.occurred_at[last]),
            "response": int(data.response_ids[last]),
        }
    return record


def recorded_salt(model: PropensityModel | None) -> int | None:
    """The random hold-out salt a version recorded (None: none, or a time split)."""
    record = ((model.metrics or {}).get("split") or {}) if model is not None else {}
    salt = record.get("salt") if record.get("method") == "random" else None
    return None if salt is None else int(salt)


def unseen_by(model: PropensityModel, data: TrainingSet) -> tuple[np.ndarray, list[str]]:
    """The rows of ``data`` the version never learnt from, and how that is known: its
    own random hold-out (by its salt), the rows after its time split's training part, and
    the rows after its training window. A version that recorded no split (trained before
    splits were recorded) is known only by its window."""
    record = (model.metrics or {}).get("split") or {}
    unseen = np.zeros(len(data.y), dtype=bool)
    how: list[str] = []
    salt = recorded_salt(model)
    if salt is not None:
        unseen |= held_out(data.response_ids, salt)
        how.append(f"its random hold-out (salt {salt})")
    through = record.get("trained_through") if record.get("method") == "time" else None
    if through:
        at = np.datetime64(str(through["occurred_at"]), "us")
        pk = int(through["response"])
        unseen |= (data.occurred_at > at) | ((data.occurred_at == at) & (data.response_ids > pk))
        how.append(f"the rows after its training part ({through['occurred_at']})")
    if model.window_end is not None:
        end = np.datetime64(model.window_end.astimezone(UTC).replace(tzinfo=None), "us")
        unseen |= data.occurred_at > end
        how.append("the rows after its training window")
    return unseen, how


def _champion_on(
    data: TrainingSet, parts: Split, active: PropensityModel, chosen: Exported
) -> Champion:
    """Both versions on the new hold-out's rows the active version never learnt from."""
    unseen, how = unseen_by(active, data)
    kept = unseen[parts.holdout]
    rows = parts.holdout[kept]
    names = tuple(active.feature_names)
    matrix = data.X if names == data.features else data.extra[names]
    calibration = active.calibration or {}
    probability = propensity(
        matrix[rows],
        active.coefficients,
        active.intercept,
        float(calibration.get("a", 1.0)),
        float(calibration.get("b", 0.0)),
    )
    auc, brier, _ = measure(data.y[rows], probability)
    challenger_auc, challenger_brier, _ = measure(data.y[rows], chosen.holdout_probability[kept])
    compared = {
        "holdout_rows": len(parts.holdout),
        "method": parts.method,
        "salt": parts.salt,
        "champion_salt": recorded_salt(active),
        "champion_split": (active.metrics or {}).get("split"),
        "never_learnt_by_champion": how,
    }
    return Champion(active, auc, brier, len(rows), challenger_auc, challenger_brier, compared)


def fairness(data: TrainingSet, parts: Split, probability: np.ndarray) -> dict[str, Any]:
    """Approval-rate ratios across the protected groups the data holds (four-fifths
    rule): approved = in the top ``APPROVED_SHARE`` of held-out scores or at or above the
    target band; per attribute, the lowest group's rate over the highest one's."""
    if not len(probability):
        return {}
    cut = min(float(np.quantile(probability, 1 - APPROVED_SHARE)), TARGET_BAND)
    approved = probability >= cut
    report: dict[str, Any] = {"approved_at": round(cut, 6), "attributes": {}}
    for name, values in sorted(data.groups.items()):
        held = values[parts.holdout]
        rates = {}
        small = []
        for group in sorted(set(held) - {""}):
            members = held == group
            if members.sum() < MIN_GROUP_ROWS:
                small.append(group)
                continue
            rates[group] = float(approved[members].mean())
        if len(rates) < 2:
            continue
        top = max(rates.values())
        ratio = min(rates.values()) / top if top > 0 else 1.0
        report["attributes"][name] = {
            "rates": {g: round(r, 4) for g, r in rates.items()},
            "ratio": round(ratio, 4),
            "flagged": ratio < FOUR_FIFTHS,
            "too_small": small,
        }
    report["flagged"] = sorted(n for n, a in report["attributes"].items() if a["flagged"])
    return report


def bands(probability: np.ndarray) -> dict[str, int]:
    """How many held-out customers fall in each likelihood band (priority >= 70 %,
    target >= 50 %, low)."""
    priority = int((probability >= PRIORITY_BAND).sum())
    target = int(((probability >= TARGET_BAND) & (probability < PRIORITY_BAND)).sum())
    return {"priority": priority, "target": target, "low": len(probability) - priority - target}


def _reason(new: Exported, champion: Champion | None, rows: int) -> tuple[bool, str]:
    if new.auc is None:
        return False, "the held-out rows hold one outcome only: no AUC, never scores"
    if new.auc < MIN_AUC:
        return False, f"held-out AUC {new.auc:.3f} is below the floor {MIN_AUC:.2f}: never scores"
    if champion is None:
        return True, f"held-out AUC {new.auc:.3f} clears the floor; no active version"
    version = champion.model.version
    if not champion.fair:
        return False, (
            f"held-out AUC {new.auc:.3f} clears the floor, but only {champion.rows} of the "
            f"{rows} held-out rows were never learnt by active v{version} (fewer than "
            f"{MIN_COMPARED_ROWS}; its hold-out salt is {champion.compared.get('champion_salt')}, "
            f"this one's {champion.compared.get('salt')}): no fair comparison, not promoted"
        )
    if champion.challenger_auc is None:
        return False, (
            f"the {champion.rows} held-out rows active v{version} never learnt from hold one "
            "outcome only: no fair comparison, not promoted"
        )
    old = champion.auc if champion.auc is not None else -1.0
    mine = champion.challenger_auc
    wins = mine > old or (mine == old and champion.challenger_brier < champion.brier)
    against = (
        f"active v{version}'s AUC {old:.3f} (Brier {champion.brier:.4f}) on the same "
        f"{champion.rows} held-out rows, which neither learnt from"
    )
    ours = f"AUC {mine:.3f} (Brier {champion.challenger_brier:.4f})"
    if champion.rows != rows:
        ours += f" (held-out AUC {new.auc:.3f} on all {rows})"
    if wins:
        return True, f"{ours} beats {against}"
    return False, f"{ours} does not beat {against}"


def model_train(
    *,
    actor: Any,
    product: Product,
    features: tuple[str, ...] | None = None,
    activate: bool = True,
    seed: int = 0,
    salt: int | None = None,
) -> PropensityModel:
    """Train, register and (when it beats the active version) activate a product's model.

    ``seed`` draws the calibration part and the trees; a random hold-out is drawn by
    ``salt``: by default the active version's, so both are measured on rows neither
    learnt from, else ``fitting.split_salt(seed)``."""
    if features is not None:
        refuse_unscored(features)
    active = PropensityModel.objects.filter(product=product, status=ModelStatus.ACTIVE).first()
    extra = [tuple(active.feature_names)] if active is not None else []
    data = training_set(product, features, extra=extra)
    if salt is None:
        salt = recorded_salt(active)
    parts, candidates = fit_candidates(data, seed=seed, salt=salt)
    chosen = better(*candidates)
    champion = _champion_on(data, parts, active, chosen) if active is not None else None
    wins, reason = _reason(chosen, champion, len(parts.holdout))
    if not activate and wins:
        wins, reason = False, f"trained without activation; {reason}"
    start, end = data.window()
    now = timezone.now()
    with transaction.atomic():
        model = PropensityModel(
            product=product,
            version=_next_version(product),
            algorithm=f"{chosen.algorithm}+platt",
            feature_names=list(chosen.feature_names),
            coefficients=list(chosen.coefficients),
            intercept=chosen.intercept,
            calibration=dict(chosen.calibration),
            inputs=list(data.features),
            auc=chosen.auc,
            brier=chosen.brier,
            calibration_curve=chosen.curve,
            feature_importance=[list(item) for item in chosen.importance],
            candidates=[c.figures() for c in candidates],
            challenged=champion.record() if champion is not None else {},
            fairness=(
                fairness(data, parts, chosen.holdout_probability) if product.is_credit else {}
            ),
            reference=reference_for(
                data.features, data.X[np.concatenate([parts.fit, parts.calibrate])]
            ),
            metrics={
                "auc": chosen.auc,
                "brier": chosen.brier,
                "base_rate": float(data.y.mean()),
                "holdout_rows": len(parts.holdout),
                "holdout_positives": int(data.y[parts.holdout].sum()),
                "positives": int(data.y.sum()),
                # held-out customers per likelihood band (engine.scoring.likelihood_band)
                "bands": bands(chosen.holdout_probability),
                # how the hold-out was drawn (``split_record``): what a later comparison reads
                "split": split_record(data, parts),
            },
            training_rows=len(parts.fit) + len(parts.calibrate),
            holdout_rows=len(parts.holdout),
            holdout_method=parts.method,
            window_start=start,
            window_end=end,
            trained_at=now,
            trained_by=str(actor),
            status_reason=reason,
        )
        retired = None
        if wins:
            if active is not None:
                PropensityModel.objects.filter(pk=active.pk).update(
                    status=ModelStatus.RETIRED,
                    status_reason=f"replaced by v{model.version}: {reason}",
                )
            model.status = ModelStatus.ACTIVE
            model.activated_at = now
        elif (
            champion is not None
            and champion.fair
            and (champion.auc is None or champion.auc < MIN_AUC)
        ):
            retired = champion.model
            PropensityModel.objects.filter(pk=retired.pk).update(
                status=ModelStatus.RETIRED,
                status_reason=(
                    f"held-out AUC {champion.auc or 0:.3f} on the {champion.rows} of "
                    f"v{model.version}'s held-out rows it never learnt from is below the floor {MIN_AUC:.2f}; the product falls back to its offers' "
                    "smoothed acceptance rate"
                ),
            )
        model.full_clean()
        model.save()
        audit(
            kind=AuditKind.MODEL,
            action="model_activated" if model.status == ModelStatus.ACTIVE else "model_trained",
            actor=actor,
            object_type="propensity_model",
            object_id=model.pk,
            object_repr=f"{product.code} v{model.version}",
            data={
                "product": product.code,
                "version": model.version,
                "algorithm": model.algorithm,
                "inputs": list(data.features),
                "metrics": model.metrics,
                "candidates": model.candidates,
                "status": model.status,
                "reason": reason,
            },
        )
        if retired is not None:
            audit(
                kind=AuditKind.MODEL,
                action="model_retired",
                actor=actor,
                object_type="propensity_model",
                object_id=retired.pk,
                object_repr=f"{product.code} v{retired.version}",
                data={"product": product.code, "version": retired.version, "auc": champion.auc},
            )
        if model.status == ModelStatus.ACTIVE or retired is not None:
            bump_catalog_version()
    return model


def models_train_all(
    *, actor: Any, products: list[Product] | None = None, seed: int = 0
) -> dict[str, Any]:
    """Train every active product (or those given) with enough history: per product
    code, the new version or why none was trained."""
    outcome: dict[str, Any] = {}
    chosen = products if products is not None else Product.objects.filter(is_active=True)
    for product in sorted(chosen, key=lambda p: p.code):
        try:
            outcome[product.code] = model_train(actor=actor, product=product, seed=seed)
        except ValidationFailed as exc:
            outcome[product.code] = f"skipped: {exc.message}"
    return outcome


def describe(model: PropensityModel) -> str:
    """One line of held-out figures, as the command and the demo print them."""
    auc = "n/a" if model.auc is None else f"{model.auc:.3f}"
    return (
        f"v{model.version} {model.status} {model.algorithm} AUC {auc} Brier {model.brier:.4f} "
        f"({model.holdout_method} hold-out of {model.holdout_rows} rows; "
        f"trained on {model.training_rows}) — {model.status_reason}"
    )
