"""Deterministic per (campaign, customer) hashing, identical in Python and NumPy.

SplitMix64 mixes 64-bit integers; the Python version masks to 64 bits, the NumPy version
relies on uint64 wrap-around, so both give the same bits for every customer id. The
control group is ``bucket < pct * 100`` with ``bucket = hash % 10000``; the A/B arm is a
weighted pick with ``u = (hash >> 11) / 2**53`` in [0, 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB
CONTROL_SALT = 0x434F4E54524F4C  # "CONTROL"
ARM_SALT = 0x41524D  # "ARM"
BUCKETS = 10_000


def mix64(value: int) -> int:
    z = (value + GOLDEN) & MASK64
    z = ((z ^ (z >> 30)) * _C1) & MASK64
    z = ((z ^ (z >> 27)) * _C2) & MASK64
    return z ^ (z >> 31)


def mix64_array(values: np.ndarray) -> np.ndarray:
    z = values.astype(np.uint64) + np.uint64(GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_C1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_C2)
    return z ^ (z >> np.uint64(31))


def _campaign_key(campaign_id: int, salt: int) -> int:
    return (campaign_id * GOLDEN + salt) & MASK64


def pair_hash(campaign_id: int, customer_id: int, salt: int) -> int:
    return mix64(mix64(customer_id & MASK64) ^ _campaign_key(campaign_id, salt))


def pair_hash_array(campaign_id: int, customer_ids: np.ndarray, salt: int) -> np.ndarray:
    mixed = mix64_array(customer_ids.astype(np.int64).view(np.uint64))
    return mix64_array(mixed ^ np.uint64(_campaign_key(campaign_id, salt)))


def control_threshold(pct: float) -> int:
    """Buckets (of 10,000) held out for a control share of ``pct`` percent."""
    return max(0, min(BUCKETS, round(pct * 100)))


def in_control(campaign_id: int, customer_id: int, threshold: int) -> bool:
    return threshold > 0 and pair_hash(campaign_id, customer_id, CONTROL_SALT) % BUCKETS < threshold


def in_control_array(campaign_id: int, customer_ids: np.ndarray, threshold: int) -> np.ndarray:
    if threshold <= 0:
        return np.zeros(len(customer_ids), dtype=bool)
    buckets = pair_hash_array(campaign_id, customer_ids, CONTROL_SALT) % np.uint64(BUCKETS)
    return buckets < np.uint64(threshold)


def arm_thresholds(weights: Sequence[float]) -> tuple[float, ...]:
    """Cumulative shares; the last arm with weight takes the rest (+inf)."""
    total = float(sum(w for w in weights if w > 0))
    if total <= 0:
        return (float("inf"),) * len(weights)
    positive = [i for i, w in enumerate(weights) if w > 0]
    cumulative: list[float] = []
    running = 0.0
    for i, weight in enumerate(weights):
        running += max(weight, 0.0)
        cumulative.append(float("inf") if i >= positive[-1] else running / total)
    return tuple(cumulative)


def pick_arm(campaign_id: int, customer_id: int, thresholds: Sequence[float]) -> int:
    u = (pair_hash(campaign_id, customer_id, ARM_SALT) >> 11) * (1.0 / (1 << 53))
    for index, threshold in enumerate(thresholds):
        if u < threshold:
            return index
    return len(thresholds) - 1


def pick_arm_array(
    campaign_id: int, customer_ids: np.ndarray, thresholds: Sequence[float]
) -> np.ndarray:
    hashed = pair_hash_array(campaign_id, customer_ids, ARM_SALT) >> np.uint64(11)
    u = hashed.astype(np.float64) * (1.0 / (1 << 53))
    picks = np.searchsorted(np.asarray(thresholds, dtype=np.float64), u, side="right")
    return np.minimum(picks, len(thresholds) - 1)
