"""SIGKILL of a Celery worker's main process in the middle of a batch run."""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress

import pytest

from tests.faults.conftest import SEED_CUSTOMERS, Stack, group_members, report, run_start, wait_for

pytestmark = pytest.mark.faults(budget_seconds=150)

CHUNK_SIZE = 60  # 3,000 customers: 50 chunks


def _chunks_done(stack: Stack, run_id: int) -> int:
    return stack.scalar(
        "SELECT count(*) FROM campaigns_campaignrunchunk WHERE run_id = %s AND status = 'done'",
        run_id,
    )


def _finished_status(stack: Stack, run_id: int) -> str | None:
    status = stack.scalar("SELECT status FROM campaigns_campaignrun WHERE id = %s", run_id)
    return status if status in ("completed", "failed") else None


def test_a_worker_killed_mid_run_and_restarted_leaves_no_duplicate_and_no_missing_decision(
    stack: Stack,
) -> None:
    stack.worker_start()
    stack.beat_start()
    run_id = run_start(stack, chunk_size=CHUNK_SIZE)
    chunks = stack.scalar(
        "SELECT count(*) FROM campaigns_campaignrunchunk WHERE run_id = %s", run_id
    )

    wait_for(lambda: _chunks_done(stack, run_id) >= 5, seconds=60, what="5 chunks stored")
    worker = stack.processes["worker"]
    pgid = worker.pid
    claimed = stack.scalar(
        "SELECT count(*) FROM decisioning_chunkdispatch d JOIN campaigns_campaignrunchunk c "
        "ON c.id = d.chunk_id WHERE c.run_id = %s AND d.claimed_at IS NOT NULL",
        run_id,
    )
    worker.kill_main()
    killed_at = time.monotonic()
    done_at_kill = _chunks_done(stack, run_id)
    orphans = len(group_members(pgid))
    # Billiard's pool children end with their parent, within moments; one still there
    # goes too, so the restarted worker is the only one left (as after a crashed host).
    for pid in group_members(pgid):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert done_at_kill < chunks, "the run finished before the kill: make the chunks smaller"

    stack.worker_start()
    restarted_at = time.monotonic()
    status = wait_for(
        lambda: _finished_status(stack, run_id),
        seconds=90,
        what="the run finished after the worker restarted",
    )
    finished = time.monotonic()
    with stack.db() as conn:
        decisions, customers, duplicated = conn.execute(
            "SELECT count(*), count(DISTINCT customer_id), "
            "count(*) - count(DISTINCT customer_id) FROM decisioning_decision WHERE run_id = %s",
            (run_id,),
        ).fetchone()
        processed, error = conn.execute(
            "SELECT processed_customers, error FROM campaigns_campaignrun WHERE id = %s", (run_id,)
        ).fetchone()
        failures, attempts = conn.execute(
            "SELECT coalesce(sum(d.failures), 0), coalesce(sum(d.attempts), 0) "
            "FROM decisioning_chunkdispatch d JOIN campaigns_campaignrunchunk c "
            "ON c.id = d.chunk_id WHERE c.run_id = %s",
            (run_id,),
        ).fetchone()
    report(
        "worker_sigkill",
        customers=SEED_CUSTOMERS,
        chunks=chunks,
        chunks_done_at_kill=done_at_kill,
        chunks_claimed_at_kill=claimed,
        pool_children_alive_after_kill=orphans,
        decisions=decisions,
        duplicates=duplicated,
        missing=SEED_CUSTOMERS - customers,
        chunk_attempts=attempts,
        chunk_failures_counted=failures,
        seconds_kill_to_restart=round(restarted_at - killed_at, 1),
        seconds_restart_to_completed=round(finished - restarted_at, 1),
    )
    assert status == "completed", error
    assert duplicated == 0
    assert customers == SEED_CUSTOMERS
    assert processed == SEED_CUSTOMERS
