"""Redis stopped, and Redis restarted empty: accepted work is late, never lost."""

from __future__ import annotations

import time

import pytest
import redis

from tests.faults.conftest import (
    FAST_SWEEPER,
    Stack,
    all_processed,
    event_duplicates,
    events_by_status,
    events_post,
    report,
    wait_for,
)

pytestmark = pytest.mark.faults(budget_seconds=150)

HORIZON = float(FAST_SWEEPER["CROSSSELL_SWEEPER_THRESHOLD_SECONDS"]) + float(
    FAST_SWEEPER["CROSSSELL_SWEEPER_INTERVAL_SECONDS"]
)


def _in_outbox(stack: Stack, event_ids: list[str]) -> int:
    return stack.scalar(
        "SELECT count(*) FROM decisioning_eventoutbox o JOIN customers_event e "
        "ON e.id = o.event_id WHERE e.event_id = ANY(%s)",
        event_ids,
    )


def test_with_redis_stopped_events_are_accepted_decisions_answered_and_all_processed_after(
    stack: Stack,
) -> None:
    stack.worker_start()
    stack.beat_start()
    stack.web_start()
    customers = stack.template.customers
    warm_ids, _ = events_post(stack, customers[:1])  # the pipeline works before the fault
    wait_for(lambda: all_processed(stack, warm_ids), seconds=30, what="warm-up event processed")

    stack.redis_kill()
    started = time.monotonic()
    event_ids, answers = events_post(stack, customers[1:31])
    events_seconds = time.monotonic() - started
    assert [a.status for a in answers] == [202] * len(answers), [a.body for a in answers]
    assert {a.body["status"] for a in answers} == {"accepted"}

    started = time.monotonic()
    decisions = [
        stack.post("/api/v1/decisions/", {"customer": {"external_id": c}, "channel": "web"})
        for c in customers[100:110]
    ]
    decisions_seconds = time.monotonic() - started
    assert [d.status for d in decisions] == [200] * len(decisions), [d.body for d in decisions]
    assert all("decision_id" in d.body for d in decisions)
    health = stack.get("/api/v1/health/")
    assert health.status == 200 and health.body["broker"] == "down", health.body

    # Stored, in the outbox, and not processed while the broker is away.
    time.sleep(2)
    assert events_by_status(stack, event_ids) == {"accepted": len(event_ids)}
    assert _in_outbox(stack, event_ids) == len(event_ids)

    stack.redis_start()  # the same port, empty
    back = time.monotonic()
    wait_for(
        lambda: all_processed(stack, event_ids),
        seconds=90,
        what="every event accepted during the outage processed after Redis came back",
    )
    recovery = time.monotonic() - back
    duplicates = event_duplicates(stack, event_ids)
    report(
        "redis_stopped",
        events_sent=len(event_ids),
        events_202=sum(a.status == 202 for a in answers),
        seconds_per_event_post_while_down=round(events_seconds / len(event_ids), 3),
        decisions_200=sum(d.status == 200 for d in decisions),
        seconds_per_decision_while_down=round(decisions_seconds / len(decisions), 3),
        processed=events_by_status(stack, event_ids).get("processed", 0),
        seconds_redis_back_to_all_processed=round(recovery, 1),
        **duplicates,
    )
    assert duplicates["duplicate_decisions"] == duplicates["duplicate_messages"] == 0
    assert duplicates["events_with_decisions"] == len(event_ids)


def test_redis_restarted_empty_with_work_queued_loses_nothing(stack: Stack) -> None:
    stack.web_start()  # no worker: what is accepted waits in Redis
    event_ids, answers = events_post(stack, stack.template.customers[:200])
    assert [a.status for a in answers] == [202] * len(answers)
    broker = redis.Redis(port=stack.redis_port)
    queued = broker.llen(stack.queue)
    assert queued == len(event_ids), "every accepted event was handed to Redis"

    stack.redis_kill()
    stack.redis_start()
    assert redis.Redis(port=stack.redis_port).llen(stack.queue) == 0  # the queue is gone

    stack.worker_start()
    stack.beat_start()
    started = time.monotonic()
    wait_for(
        lambda: all_processed(stack, event_ids),
        seconds=90,
        what="every event queued before the Redis restart processed",
    )
    recovery = time.monotonic() - started
    duplicates = event_duplicates(stack, event_ids)
    # The sweeper then clears the outbox rows of processed events.
    wait_for(
        lambda: _in_outbox(stack, event_ids) == 0,
        seconds=3 * HORIZON,
        what="the outbox rows of the processed events cleared by the sweeper",
    )
    report(
        "redis_restarted_empty",
        events_sent=len(event_ids),
        messages_in_redis_before_restart=queued,
        messages_in_redis_after_restart=0,
        processed=events_by_status(stack, event_ids).get("processed", 0),
        seconds_worker_start_to_all_processed=round(recovery, 1),
        sweeper_horizon_seconds=HORIZON,
        **duplicates,
    )
    assert duplicates["duplicate_decisions"] == duplicates["duplicate_messages"] == 0
    assert duplicates["events_with_decisions"] == len(event_ids)
