"""The check registries are the engine's wiring: one scalar check (``policy.CHECKS``) and
one vectorised stage (``batch.BATCH_STAGES``) per stage of ``reasons.CANDIDATE_STAGES`` and
``reasons.CHANNEL_STAGES``, and ``decide`` / ``decide_batch`` apply exactly those, in that
order. A rule added to reasons.py without its check or batch stage fails here (and the
engine refuses to import, with the same message)."""

from __future__ import annotations

import importlib

import pytest

from decisioning.engine import batch, policy, reasons

# the module (``decisioning.engine.decide`` is also the name of the function it exports)
decide_module = importlib.import_module("decisioning.engine.decide")

STAGES = (*reasons.CANDIDATE_STAGES, *reasons.CHANNEL_STAGES)


def test_every_stage_has_one_scalar_check_and_one_batch_stage_and_they_are_the_wiring():
    missing = [stage for stage in STAGES if stage not in policy.CHECKS]
    assert not missing, f"stages without a scalar check (register one in policy.py): {missing}"
    missing = [stage for stage in STAGES if stage not in batch.BATCH_STAGES]
    assert not missing, f"stages without a batch stage (register one in batch.py): {missing}"
    assert set(policy.CHECKS) == set(STAGES), "scalar checks registered for unknown stages"
    assert set(batch.BATCH_STAGES) == set(STAGES), "batch stages registered for unknown stages"

    # each check decides its own stage, in a group its stage can use, and the scalar and
    # batch engines agree on which checks are per channel
    for stage, check in policy.CHECKS.items():
        assert check.stage == stage == batch.BATCH_STAGES[stage].reason
        groups = (
            policy.CANDIDATE_GROUPS if stage in reasons.CANDIDATE_STAGES else policy.CHANNEL_GROUPS
        )
        assert check.group in groups, f"{stage}: a {check.group} check"
        per_channel = check.group == policy.CHANNEL
        assert batch.BATCH_STAGES[stage].per_channel == per_channel, stage

    # the derived wiring runs every check once, in stage order
    wiring = decide_module.wire()
    joined = tuple(c for group in policy.CANDIDATE_GROUPS for c in wiring.groups[group])
    assert [c.stage for c in wiring.order(joined)] == list(reasons.CANDIDATE_STAGES)
    channel = wiring.groups[policy.CHANNEL_LIST] + wiring.groups[policy.CHANNEL]
    assert [c.stage for c in channel] == list(reasons.CHANNEL_STAGES)
    matrix, per_channel = batch.wire()
    assert [s.reason for s in (*matrix, *per_channel)] == list(STAGES)

    # a rule added to reasons.py without its check or batch stage is refused
    with pytest.raises(LookupError, match=r"'new_rule' .*no scalar check.*policy\.py"):
        decide_module.wire(candidate_stages=(*reasons.CANDIDATE_STAGES, "new_rule"))
    with pytest.raises(LookupError, match=r"'new_rule' .*no batch stage.*batch\.py"):
        batch.wire(channel_stages=(*reasons.CHANNEL_STAGES, "new_rule"))
    # ... and so is a second check for a stage
    with pytest.raises(ValueError, match="two scalar checks for 'erased'"):
        policy.customer_check(reasons.ERASED)(policy.check_erased)
