"""The statistics of campaign results, in pure Python (no Django).

- ``difference``: treated minus control rate of two independent proportions, with the
  95 % interval by Newcombe's hybrid score method (1998, method 10: Wilson intervals of
  each proportion combined), which keeps inside [-1, 1] and behaves with small counts and
  rates near 0 where the Wald interval collapses; and the two-sided p-value of the
  two-proportion z-test with the pooled standard error (the test of "no difference").
- ``percentile_from_histogram``: a percentile of latencies kept as bucket counts, by
  linear interpolation inside the bucket that holds it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile

# Upper edges (ms) of the signal-to-offer latency buckets; a last bucket holds the rest.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Proportion:
    successes: int
    trials: int

    def __post_init__(self) -> None:
        if self.trials < 0 or self.successes < 0 or self.successes > self.trials:
            raise ValueError(f"not a proportion: {self.successes}/{self.trials}")

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of one proportion."""
    if trials <= 0:
        raise ValueError("the Wilson interval needs at least one trial")
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Difference:
    """Treated minus control: the rates, their difference with its 95 % interval, the
    relative lift (difference over the control rate) and the p-value of no difference."""

    treated: Proportion
    control: Proportion
    difference: float
    ci_low: float
    ci_high: float
    relative: float | None
    z: float | None
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def difference(treated: Proportion, control: Proportion, z: float = Z95) -> Difference | None:
    """None when either group is empty (nothing to compare)."""
    if not treated.trials or not control.trials:
        return None
    p1, p2 = treated.successes / treated.trials, control.successes / control.trials
    l1, u1 = wilson_interval(treated.successes, treated.trials, z)
    l2, u2 = wilson_interval(control.successes, control.trials, z)
    diff = p1 - p2
    low = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    pooled = (treated.successes + control.successes) / (treated.trials + control.trials)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / treated.trials + 1 / control.trials))
    if se0 == 0:
        # Both groups all successes or all failures: no evidence of any difference.
        z_score, p_value = None, 1.0
    else:
        z_score = diff / se0
        p_value = math.erfc(abs(z_score) / math.sqrt(2))
    return Difference(
        treated=treated,
        control=control,
        difference=diff,
        ci_low=max(-1.0, low),
        ci_high=min(1.0, high),
        relative=diff / p2 if p2 else None,
        z=z_score,
        p_value=p_value,
    )


def latency_bucket(ms: float) -> int:
    """The index of the bucket a latency falls in."""
    for index, edge in enumerate(LATENCY_BUCKETS_MS):
        if ms <= edge:
            return index
    return len(LATENCY_BUCKETS_MS)


def percentile_from_histogram(
    counts: Sequence[int], pct: float, *, max_ms: float | None = None
) -> float | None:
    """The ``pct`` percentile of latencies counted per bucket; None when there are none.

    Inside its bucket the value is interpolated linearly between the bucket's lower and
    upper edges (the last, open bucket ends at ``max_ms``, the largest latency seen)."""
    if not 0 < pct <= 100:
        raise ValueError("a percentile is in (0, 100]")
    total = sum(counts)
    if total == 0:
        return None
    rank = pct / 100 * total
    seen = 0
    edges = (0.0, *(float(edge) for edge in LATENCY_BUCKETS_MS))
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            low = edges[index] if index < len(edges) else edges[-1]
            if index + 1 < len(edges):
                high = edges[index + 1]
            else:
                high = max(low, max_ms if max_ms is not None else low)
            if max_ms is not None:
                high = min(high, max(low, max_ms))
            return low + (high - low) * (rank - seen) / count
        seen += count
    return None
