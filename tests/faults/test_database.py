"""PostgreSQL unreachable for about 30 s while tasks wait: the API answers 503 with
Retry-After in its error shape, and once the database is back every accepted event is
processed exactly once."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import (
    HttpAnswer,
    Stack,
    all_processed,
    event_body,
    event_duplicates,
    events_by_status,
    events_post,
    report,
    wait_for,
)

pytestmark = pytest.mark.faults(budget_seconds=180)

OUTAGE_SECONDS = 30
WAITING_EVENTS = 100


def _is_503(answer: HttpAnswer) -> bool:
    """503 ``service_unavailable`` in the API's error shape, with a Retry-After."""
    return (
        answer.status == 503
        and answer.headers.get("retry-after", "").isdigit()
        and isinstance(answer.body, dict)
        and answer.body.get("error", {}).get("code") == "service_unavailable"
        and bool(answer.body["error"].get("message"))
    )


def _first_accepted(stack: Stack, body: dict) -> HttpAnswer | None:
    answer = stack.post("/api/v1/events/", body)
    return answer if answer.status == 202 else None


def test_a_database_outage_answers_503_with_retry_after_and_loses_no_accepted_event(
    stack: Stack,
) -> None:
    stack.web_start()
    stack.beat_start()
    customers = stack.template.customers
    # Accepted while no worker runs: these tasks wait in Redis when the database goes.
    waiting_ids, answers = events_post(stack, customers[:WAITING_EVENTS])
    assert [a.status for a in answers] == [202] * len(answers)

    stack.proxy.cut()
    cut_at = time.monotonic()
    stack.worker_start()  # takes the waiting tasks, finds no database, retries with backoff

    during: list[tuple[str, HttpAnswer]] = []
    refused: list[dict] = []  # event bodies answered 503, which a client sends again
    deadline = cut_at + OUTAGE_SECONDS
    index = WAITING_EVENTS
    while time.monotonic() < deadline:
        body = event_body(customers[index])
        answer = stack.post("/api/v1/events/", body)
        during.append(("events", answer))
        if answer.status == 503:
            refused.append(body)
        decision = {"customer": {"external_id": customers[index]}, "channel": "web"}
        during.append(("decisions", stack.post("/api/v1/decisions/", decision)))
        health = stack.get("/api/v1/health/")
        assert health.status == 503 and health.body["database"] != "ok", health.body
        index += 1
        time.sleep(1)
    wrong = [(path, a.status, a.headers, a.body) for path, a in during if not _is_503(a)]
    assert not wrong, wrong
    assert events_by_status(stack, waiting_ids) == {"accepted": WAITING_EVENTS}

    stack.proxy.restore()
    back = time.monotonic()
    # A client sends again what was refused (after Retry-After): it was never stored, so
    # it is accepted now, once.
    again = wait_for(
        lambda: _first_accepted(stack, refused[0]), seconds=30, what="the API accepting again"
    )
    answers_again = [again] + [stack.post("/api/v1/events/", body) for body in refused[1:]]
    assert [(a.status, a.body["duplicate"]) for a in answers_again] == [(202, False)] * len(refused)
    event_ids = waiting_ids + [body["event_id"] for body in refused]
    wait_for(
        lambda: all_processed(stack, event_ids),
        seconds=90,
        what="every accepted event processed after the database came back",
    )
    recovery = time.monotonic() - back
    duplicates = event_duplicates(stack, event_ids)
    report(
        "database_unreachable",
        outage_seconds=round(back - cut_at, 1),
        events_waiting=WAITING_EVENTS,
        requests_during_outage=len(during),
        answered_503_with_retry_after=sum(_is_503(a) for _, a in during),
        events_refused_then_sent_again=len(refused),
        event_task_retries_during_outage=stack.log_lines(
            "worker", "decisioning.process_event[", "retry: Retry in"
        ),
        processed=events_by_status(stack, event_ids).get("processed", 0),
        seconds_database_back_to_all_processed=round(recovery, 1),
        **duplicates,
    )
    assert duplicates["duplicate_decisions"] == duplicates["duplicate_messages"] == 0
    assert duplicates["events_with_decisions"] == len(event_ids)
