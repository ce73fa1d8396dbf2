"""The statistics against values worked out by hand and published ones."""

from __future__ import annotations

import math

import pytest

from results.stats import (
    LATENCY_BUCKETS_MS,
    Proportion,
    difference,
    latency_bucket,
    percentile_from_histogram,
    wilson_interval,
)


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873-890, example (a): 56/70 vs 48/80,
    # method 10 (hybrid score): difference 0.2000, 95 % interval 0.0524 to 0.3339.
    result = difference(Proportion(56, 70), Proportion(48, 80))
    assert result.difference == pytest.approx(0.2)
    assert round(result.ci_low, 4) == 0.0524
    assert round(result.ci_high, 4) == 0.3339


def test_newcombe_interval_with_a_zero_count_matches_the_published_example():
    # Newcombe (1998) example (d): 0/10 vs 0/20, method 10: -0.1611 to 0.2775.
    result = difference(Proportion(0, 10), Proportion(0, 20))
    assert round(result.ci_low, 4) == -0.1611
    assert round(result.ci_high, 4) == 0.2775
    assert result.p_value == 1.0  # both groups all failures: no evidence of a difference
    assert result.z is None


def test_wilson_interval_by_hand():
    # 81/263 (Wilson's own example is often quoted as 0.2553 to 0.3662 at 95 %).
    low, high = wilson_interval(81, 263)
    assert round(low, 4) == 0.2553
    assert round(high, 4) == 0.3662


def test_pooled_z_test_p_value_by_hand():
    # 30/100 vs 10/100: pooled p = 0.2, SE = sqrt(0.2 * 0.8 * (1/100 + 1/100)) = 0.0565685;
    # z = 0.2 / 0.0565685 = 3.5355339; two-sided p = erfc(z / sqrt 2) = erfc(2.5).
    result = difference(Proportion(30, 100), Proportion(10, 100))
    assert result.z == pytest.approx(3.5355339, rel=1e-7)
    assert result.p_value == pytest.approx(4.0695201e-4, rel=1e-6)
    assert result.relative == pytest.approx(2.0)
    assert result.significant


def test_no_comparison_without_both_groups():
    assert difference(Proportion(3, 10), Proportion(0, 0)) is None
    assert difference(Proportion(0, 0), Proportion(1, 10)) is None


def test_a_proportion_cannot_have_more_successes_than_trials():
    with pytest.raises(ValueError):
        Proportion(3, 2)


def test_latency_buckets_hold_their_upper_edge():
    assert latency_bucket(0) == 0
    assert latency_bucket(5) == 0
    assert latency_bucket(5.01) == 1
    assert latency_bucket(10**9) == len(LATENCY_BUCKETS_MS)


def test_percentile_interpolates_inside_its_bucket():
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    counts[3] = 2  # two in (25, 50]
    counts[5] = 2  # two in (100, 250]
    # p50: rank 2 of 4 -> the top of (25, 50] = 50; p95: rank 3.8 -> 100 + 150 * 1.8/2.
    assert percentile_from_histogram(counts, 50) == pytest.approx(50.0)
    assert percentile_from_histogram(counts, 95) == pytest.approx(235.0)
    # the largest latency seen caps the bucket it falls in: 100 + (180 - 100) * 1.8 / 2
    assert percentile_from_histogram(counts, 95, max_ms=180) == pytest.approx(172.0)
    assert percentile_from_histogram([0] * len(counts), 50) is None
    assert math.isclose(percentile_from_histogram(counts, 100), 250.0)
