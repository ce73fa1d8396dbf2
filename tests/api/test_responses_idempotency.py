"""POST /api/v1/responses/ when copies of one response arrive at once.

A channel retrying on a timeout can send the same response several times in parallel.
Each copy looks ``response_id`` up, finds nothing, and inserts; the unique index lets
one insert through. The others must answer as a later repeat would: the original result
with ``duplicate: true`` (same body) or 409 (another body) — never 400 "already exists"
and never a second set of effects.

On SQLite the race is staged: the look-up is patched so that another request records
the response between it and the insert. On PostgreSQL (``integration``) eight threads
really post at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from django.db import IntegrityError, connection

from core.models import ApiClient
from decisioning.api.serializers import ResponseSerializer
from decisioning.feedback import responses as responses_service
from decisioning.models import Contact, Response
from ledger.models import AuditRecord
from tests.api.conftest import ALL_CHANNELS, Api, error_of
from tests.conftest import IN_CI

OCCURRED_AT = "2026-01-01T10:00:00+00:00"


def _decide(channel_api: Api) -> dict[str, Any]:
    body = channel_api.post(
        "/api/v1/decisions/",
        {"customer": {"external_id": "C123"}, "channel": "branch", "max_offers": 3},
    ).json()
    assert body["offers"], body
    return body


def _body(decision: dict[str, Any], *, outcome: str = "click") -> dict[str, Any]:
    return {
        "response_id": "R-RACE",
        "decision_id": decision["decision_id"],
        "offer_code": decision["offers"][0]["offer_code"],
        "outcome": outcome,
        "occurred_at": OCCURRED_AT,
        "channel": "branch",
        "agent_id": "agent-7",
    }


def _record_directly(body: dict[str, Any]) -> None:
    """What a concurrent request does: the service, straight through, for the same
    channel client."""
    responses_service.response_record(
        actor=ApiClient.objects.get(role="channel"),
        response_id=body["response_id"],
        decision_id=body["decision_id"],
        offer_code=body["offer_code"],
        outcome=body["outcome"],
        occurred_at=datetime.fromisoformat(body["occurred_at"]),
        channel=body["channel"],
        agent_id=body["agent_id"],
    )


@pytest.fixture
def race(monkeypatch):
    """Patch the look-up: its first call lets ``concurrent`` record a response, then
    reports nothing found — exactly what a request sees when another one commits
    between its look-up and its insert. Later calls look up for real."""
    real_existing = responses_service._existing
    staged: list[Any] = []

    def stage(concurrent):
        staged.append(concurrent)

    def racing_existing(response_id: str, body_hash: str):
        if staged:
            concurrent = staged.pop()
            concurrent()
            return None
        return real_existing(response_id, body_hash)

    monkeypatch.setattr(responses_service, "_existing", racing_existing)
    return stage


@pytest.mark.django_db
def test_a_copy_losing_the_insert_race_answers_the_original_result_as_a_duplicate(
    bank, customer, channel_api, race
):
    decision = _decide(channel_api)
    body = _body(decision)
    race(lambda: _record_directly(body))

    response = channel_api.post("/api/v1/responses/", body)

    assert response.status_code == 200, response.content
    original = Response.objects.get(response_id="R-RACE")
    answered = response.json()
    assert (
        answered
        == ResponseSerializer(responses_service.RecordedResponse(original, duplicate=True)).data
    )
    again = channel_api.post("/api/v1/responses/", body)
    assert again.status_code == 200
    assert again.json() == answered, "the race's answer is the one every later repeat gets"


@pytest.mark.django_db
def test_a_copy_losing_the_insert_race_applies_nothing_a_second_time(
    bank, customer, channel_api, race
):
    decision = _decide(channel_api)
    body = _body(decision)
    race(lambda: _record_directly(body))

    channel_api.post("/api/v1/responses/", body)

    recorded = Response.objects.get(response_id="R-RACE")
    assert Response.objects.count() == 1
    assert AuditRecord.objects.filter(kind="response", object_id=str(recorded.pk)).count() == 1
    contact = Contact.objects.get(decision_id=decision["decision_id"], offer=recorded.offer)
    assert contact.outcome == "click"


@pytest.mark.django_db
def test_a_different_body_losing_the_insert_race_is_409(bank, customer, channel_api, race):
    decision = _decide(channel_api)
    first = _body(decision, outcome="dismiss")
    race(lambda: _record_directly(first))

    response = channel_api.post("/api/v1/responses/", _body(decision, outcome="click"))

    assert response.status_code == 409, response.content
    error = error_of(response)
    assert error["code"] == "conflict"
    assert "response_id" in error["fields"]
    assert Response.objects.get(response_id="R-RACE").outcome == "dismiss"


@pytest.mark.django_db
def test_an_integrity_error_with_no_row_to_return_is_not_taken_for_a_duplicate(
    bank, customer, channel_api, monkeypatch
):
    """Only a row that is really there makes a duplicate: any other integrity failure
    propagates instead of being answered as a repeat."""
    decision = _decide(channel_api)

    def failing_save(self, *args, **kwargs):
        raise IntegrityError("some other constraint")

    monkeypatch.setattr(Response, "save", failing_save)
    with pytest.raises(IntegrityError):
        _record_directly(_body(decision))
    assert not Response.objects.exists()


# --- real concurrency, PostgreSQL -------------------------------------------------------

COPIES = 8


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        message = f"needs PostgreSQL (database is {connection.vendor}; set DATABASE_URL)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def _post_at_once(key: str, bodies: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Each body from its own thread (its own connection), released together."""
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, dict[str, Any]] | None] = [None] * len(bodies)
    failures: list[BaseException] = []

    def post(index: int, body: dict[str, Any]) -> None:
        try:
            api = Api(key)
            barrier.wait(timeout=30)
            answer = api.post("/api/v1/responses/", body)
            results[index] = (answer.status_code, answer.json())
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=post, args=(index, body)) for index, body in enumerate(bodies)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_eight_simultaneous_copies_record_once_and_all_answer_the_original(
    postgresql, bank, customer, make_api
):
    channel_api = make_api("channel", ALL_CHANNELS)
    decision = _decide(channel_api)
    body = _body(decision)

    answers = _post_at_once(channel_api.key, [body] * COPIES)

    assert Counter(status for status, _ in answers) == {201: 1, 200: COPIES - 1}, answers
    original = next(payload for status, payload in answers if status == 201)
    for status, payload in answers:
        if status == 200:
            assert payload == {**original, "duplicate": True}
    recorded = Response.objects.get(response_id="R-RACE")
    assert Response.objects.count() == 1
    assert AuditRecord.objects.filter(kind="response", object_id=str(recorded.pk)).count() == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_simultaneous_copies_with_different_bodies_are_409_except_the_first(
    postgresql, bank, customer, make_api
):
    channel_api = make_api("channel", ALL_CHANNELS)
    decision = _decide(channel_api)
    clicks, dismisses = _body(decision, outcome="click"), _body(decision, outcome="dismiss")

    answers = _post_at_once(channel_api.key, [clicks, dismisses] * (COPIES // 2))

    recorded = Response.objects.get(response_id="R-RACE")
    statuses = Counter(status for status, _ in answers)
    assert statuses[201] == 1 and statuses[200] == COPIES // 2 - 1
    assert statuses[409] == COPIES // 2, answers
    for status, payload in answers:
        if status == 409:
            assert payload["error"]["code"] == "conflict"
        else:
            assert payload["outcome"] == recorded.outcome
