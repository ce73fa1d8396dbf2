"""Simulation of a draft campaign over the same engine code: audience, funnel, expected
conversions, before launch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
from django.utils import timezone

from campaigns.models import Campaign
from decisioning import engine
from decisioning.decisions.snapshots import LoadedSnapshot, build
from decisioning.engine.simulate import SimulationReport, summarize
from decisioning.runs.batch import (
    DEFAULT_CHUNK_SIZE,
    chunk_bounds,
    decision_request,
    evaluate_range,
)

# --- simulation --------------------------------------------------------------------------------


def campaign_simulate(
    *,
    campaign: Campaign,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationReport:
    """Audience size, suppression funnel and expected conversions, storing nothing.

    Runs the same batch engine as a launch over every customer; works for a draft
    campaign too (it is compiled into a private snapshot for the simulation).
    """
    now = now or timezone.now()
    loaded = build(now, extra_campaign_ids=frozenset({campaign.pk}))
    bounds = chunk_bounds(chunk_size)
    results = []
    done = 0
    total = sum(count for _, _, count in bounds)
    for lo, hi, count in bounds:
        results.append(evaluate_range(loaded, campaign.pk, lo, hi, now))
        done += count
        if progress:
            progress(done, total)
    return (
        summarize(_concatenate(results))
        if results
        else summarize(_empty_result(loaded, campaign.pk, now))
    )


def _empty_result(loaded: LoadedSnapshot, campaign_id: int, now: datetime) -> engine.BatchResult:
    empty = engine.CustomerBatch.from_columns([])
    return engine.decide_batch(loaded.engine, empty, decision_request(loaded, campaign_id, now))


def _concatenate(results: list[engine.BatchResult]) -> engine.BatchResult:
    import dataclasses

    first = results[0]
    arrays = {
        name: np.concatenate([getattr(r, name) for r in results])
        for name in (
            "customer_ids", "arm", "in_audience", "chosen", "chosen_channel", "chosen_score",
            "chosen_propensity", "deliver_after_us", "control", "outcome",
        )
    }  # fmt: skip
    return dataclasses.replace(first, volume_used=results[-1].volume_used, **arrays)
