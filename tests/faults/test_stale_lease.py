"""A holder whose lease expired cannot overwrite the outcome of the message's next holder,
over HTTP against gunicorn (no fault injected: the stale holder is the fault)."""

from __future__ import annotations

import time

import pytest

from tests.faults.conftest import Stack, report, run_start

pytestmark = pytest.mark.faults(budget_seconds=90)

CHANNEL = "email"


def _lease(stack: Stack) -> dict:
    answer = stack.post(
        f"/api/v1/channels/{CHANNEL}/messages/lease/", {"max": 1, "lease_seconds": 1}
    )
    assert answer.status == 200, answer.body
    assert len(answer.body["messages"]) == 1, answer.body
    return answer.body["messages"][0]


def _ack(stack: Stack, message_id: str, **body) -> object:
    return stack.post(f"/api/v1/messages/{message_id}/ack/", body)


def test_an_ack_naming_an_expired_lease_is_409_and_the_next_holders_outcome_stands(
    stack: Stack,
) -> None:
    started = time.monotonic()
    run_start(stack, chunk_size=50_000, in_process=True)  # queues e-mail messages
    stack.web_start()

    first = _lease(stack)
    time.sleep(1.5)  # the first holder's lease runs out
    second = _lease(stack)
    assert second["message_id"] == first["message_id"]  # expired leases are leased first
    assert second["lease_id"] != first["lease_id"]
    message_id = first["message_id"]

    # The stale holder acks before the new holder: refused, the message stays leased.
    stale = _ack(stack, message_id, status="failed", error="timeout", lease_id=first["lease_id"])
    assert stale.status == 409, stale.body
    assert stale.body["error"]["code"] == "conflict"
    assert "lease_id" in stale.body["error"]["fields"]
    assert stack.scalar("SELECT status FROM decisioning_message WHERE id = %s", message_id) == (
        "leased"
    )

    current = _ack(
        stack, message_id, status="delivered", provider_ref="second-holder",
        lease_id=second["lease_id"],
    )  # fmt: skip
    assert current.status == 200, current.body

    # ... and after it: still refused, the second holder's outcome stands.
    late = _ack(stack, message_id, status="failed", error="timeout", lease_id=first["lease_id"])
    assert late.status == 409, late.body
    with stack.db() as conn:
        status, provider_ref, error = conn.execute(
            "SELECT status, provider_ref, error FROM decisioning_message WHERE id = %s",
            (message_id,),
        ).fetchone()
    assert (status, provider_ref, error) == ("delivered", "second-holder", "")
    report(
        "stale_lease",
        stale_acks_refused=2,
        final_status=status,
        seconds=round(time.monotonic() - started, 1),
    )
