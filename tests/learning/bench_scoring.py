"""Scoring benchmark (not a test): ``python -m tests.learning.bench_scoring``.

CPU time of one inbound decision over 50 running offers (the engine benchmark's
snapshot, ``tests.engine.bench_engine.build``) with every product scored by (a) the
benchmark's logistic models, (b) exported HistGradientBoosting forests of the size the
trainer fits (``decisioning.learning.fitting.TREES``), and (c) no model (smoothed
acceptance rates). Figures are printed, never asserted.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from decisioning.engine import ModelSpec, decide
from decisioning.engine.features import forest_feature_name, parse_forest
from decisioning.engine.scoring import Exploration, configure_exploration
from decisioning.engine.snapshot import build_snapshot
from decisioning.learning.fitting import TREES, export_forest

from ..engine.bench_engine import build
from ..engine.builders import NOW, PRODUCTS, contact, customer, inbound

INPUTS = ("age", "tenure_months", "income_band=high", "holds:CURRENT_ACCOUNT", "attributes.salary")


def forest_models(seed: int = 0) -> list[ModelSpec]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(seed)
    n = 5_000
    X = np.column_stack(
        [
            rng.integers(18, 80, n),
            rng.integers(0, 240, n),
            rng.random(n) < 0.3,
            rng.random(n) < 0.6,
            rng.uniform(500, 8000, n),
        ]
    ).astype(np.float64)
    models = []
    for i, code in enumerate(sorted(PRODUCTS)):
        logit = -2.5 + 0.0004 * (X[:, 4] - 3000) * (1 + i % 3) - 0.02 * (X[:, 0] - 45)
        y = rng.random(n) < 1 / (1 + np.exp(-logit))
        model = HistGradientBoostingClassifier(random_state=seed, **TREES).fit(X, y)
        forest, baseline = export_forest(model, INPUTS)
        models.append(
            ModelSpec(
                product_code=code,
                version="1",
                feature_names=(forest_feature_name(forest),),
                coefficients=(1.0,),
                intercept=baseline,
            )
        )
    return models


def best_of(call, repeats: int = 20, rounds: int = 100) -> float:
    timings = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(rounds):
            call()
        timings.append((time.process_time() - start) / rounds)
    return min(timings)


def main() -> None:
    base = build()
    person = customer(
        7,
        attributes={"salary": 2500},
        income_band="high",
        holdings={"CURRENT_ACCOUNT"},
        contact_history=[
            contact(f"OFFER_{i % 50:02d}", NOW.replace(day=1), channel="push") for i in range(20)
        ],
    )
    request = inbound("mobile_app", max_offers=3)

    def rebuilt(models):
        return build_snapshot(
            version=base.version,
            products=base.products.values(),
            offers=base.offers.values(),
            campaigns=base.campaigns.values(),
            policy=base.policy,
            models=models,
        )

    logistic = [
        replace(next(iter(base.models.values())), product_code=code) for code in sorted(PRODUCTS)
    ]
    forests = forest_models()
    trees = sum(len(parse_forest(m.feature_names[0]).roots) for m in forests)
    for label, models, share in (
        ("no model (smoothed rates)", [], 0.0),
        (f"logistic, {len(logistic)} products", logistic, 0.0),
        (f"forests, {len(forests)} products, {trees} trees", forests, 0.0),
        (f"forests, {len(forests)} products, exploration share 0.1", forests, 0.1),
        ("no model, exploration share 1.0 (every offer draws)", [], 1.0),
    ):
        configure_exploration(Exploration(share=share, max_presented=10_000))
        snap = rebuilt(models)
        decision = decide(snap, person, request)
        per_call = best_of(lambda snap=snap: decide(snap, person, request))
        print(
            f"inbound decision, 50 offers, {len(decision.candidates)} candidates, {label}: "
            f"{per_call * 1e3:.3f} ms CPU (best of 20 x 100)"
        )


if __name__ == "__main__":
    main()
