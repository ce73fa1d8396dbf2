"""Likelihood bands: a calibrated propensity read as "priority", "target" or "low".

- ``priority``: propensity >= 0.70 (``PRIORITY_BAND``);
- ``target``: propensity >= 0.50 (``TARGET_BAND``);
- ``low``: below that (and a propensity that is not a number).

The explanation's band per released offer (``scoring.likelihood_band``), the models
page's held-out counts per band and the rule language's ``likelihood("PRODUCT")`` term all
read these thresholds, so a band means one thing everywhere. Scalar and vectorised bands
are the same float64 comparisons.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

PRIORITY_BAND = 0.70
TARGET_BAND = 0.50

PRIORITY = "priority"
TARGET = "target"
LOW = "low"
BANDS: tuple[str, ...] = (PRIORITY, TARGET, LOW)  # highest first
# the order the rule language compares bands in: low < target < priority
RANK: dict[str, int] = {LOW: 0, TARGET: 1, PRIORITY: 2}


def likelihood_band(propensity: float) -> str:
    """>= 0.70 "priority", >= 0.50 "target", else "low"."""
    if propensity >= PRIORITY_BAND:
        return PRIORITY
    if propensity >= TARGET_BAND:
        return TARGET
    return LOW


def band_ranks(propensity: np.ndarray) -> np.ndarray:
    """``RANK`` of each propensity's band (int8: 0 low, 1 target, 2 priority)."""
    values = np.asarray(propensity, dtype=np.float64)
    ranks = (values >= TARGET_BAND).astype(np.int8)
    ranks += values >= PRIORITY_BAND
    return ranks


class LikelihoodSeen(NamedTuple):
    """What a ``likelihood("PRODUCT")`` term read for one customer."""

    propensity: float
    band: str
    source: str  # "model" (the product's active model) or "prior" (smoothed rate)
    model_version: str | None = None

    def to_dict(self) -> dict[str, float | str | None]:
        data: dict[str, float | str | None] = {
            "propensity": self.propensity,
            "band": self.band,
            "source": self.source,
        }
        if self.model_version is not None:
            data["model_version"] = self.model_version
        return data
