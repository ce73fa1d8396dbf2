"""Events are idempotent by ``event_id`` even when copies race, and accepted even when the
broker is down: concurrent identical events all get the original result (``duplicate``),
never a 400; a broker that does not answer never fails the request."""

from __future__ import annotations

import datetime
import threading
from unittest import mock

import pytest
from django.db import connections
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from customers.models import Event
from decisioning import tasks
from decisioning.models import Decision, EventOutbox
from decisioning.outbox import sweep
from decisioning.signals import ingest
from tests.api.conftest import Api, error_of

pytestmark = pytest.mark.django_db


def event(event_id="E-RACE", **extra):
    body = {
        "event_id": event_id,
        "type": "payment_failed",
        "occurred_at": timezone.now().isoformat(),
        "customer": {"external_id": "C123"},
        "channel": "mobile_app",
        "payload": {"amount": 42.5},
    }
    body.update(extra)
    return body


def _lost_the_race():
    """The look-up before the insert misses the row another request is committing; later
    look-ups see it (what happens to the loser of two identical requests at once)."""
    real = ingest._stored_event
    calls = {"n": 0}

    def stored(event_id):
        calls["n"] += 1
        return None if calls["n"] == 1 else real(event_id)

    return mock.patch.object(ingest, "_stored_event", side_effect=stored)


def test_the_loser_of_a_race_between_identical_events_gets_the_original_result(
    bank, customer, channel_api
):
    body = event()
    first = channel_api.post("/api/v1/events/", body)
    assert first.status_code == 202
    with _lost_the_race():
        second = channel_api.post("/api/v1/events/", body)
    assert second.status_code == 202, second.content
    assert second.json() == {"event_id": "E-RACE", "status": "accepted", "duplicate": True}
    assert Event.objects.filter(event_id="E-RACE").count() == 1
    assert EventOutbox.objects.count() == 1


def test_the_loser_of_a_race_with_a_different_body_gets_409(bank, customer, channel_api):
    body = event()
    assert channel_api.post("/api/v1/events/", body).status_code == 202
    with _lost_the_race():
        other = channel_api.post("/api/v1/events/", {**body, "payload": {"amount": 1}})
    assert other.status_code == 409
    assert error_of(other)["code"] == "conflict"
    assert error_of(other)["fields"] == {"event_id": ["already used with a different body"]}


def test_an_event_sent_while_the_broker_is_down_is_accepted_and_processed_by_the_sweeper(
    bank, customer, channel_api, django_capture_on_commit_callbacks
):
    refusal = BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    body = event("E-DOWN")
    with (
        mock.patch.object(tasks.process_event, "apply_async", side_effect=refusal),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = channel_api.post("/api/v1/events/", body)
    assert response.status_code == 202
    assert response.json() == {"event_id": "E-DOWN", "status": "accepted", "duplicate": False}
    # The channel's retry is a duplicate, as before; the event has not been lost.
    again = channel_api.post("/api/v1/events/", body)
    assert again.status_code == 202 and again.json()["duplicate"] is True
    stored = Event.objects.get(event_id="E-DOWN")
    assert stored.status == "accepted"

    sweep(now=timezone.now() + datetime.timedelta(minutes=2))
    stored.refresh_from_db()
    assert stored.status == "processed"
    assert Decision.objects.filter(event=stored).count() == 1


# --- real concurrency on PostgreSQL --------------------------------------------------------

COPIES = 4


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_events_all_get_the_original_result(
    integration_services, ledger_allows_live_server_flush
):
    from crosssell.services import api_client_create
    from tests.factories import CustomerFactory

    CustomerFactory(external_id="C123")
    _, key = api_client_create(
        actor="system:tests", name="racer", role="channel", channels=["mobile_app"]
    )
    # app_login triggers no campaign: the race is the subject, not the decision.
    body = event("E-CONCURRENT", type="app_login", payload={})
    # Every request looks first, then all insert at once: three of four lose the race.
    looked = threading.Barrier(COPIES, timeout=30)
    real = ingest._stored_event
    first_look = threading.local()

    def stored(event_id):
        found = real(event_id)
        if not getattr(first_look, "done", False):
            first_look.done = True
            looked.wait()
        return found

    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def send(payload):
        try:
            response = Api(key).post("/api/v1/events/", payload)
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    with mock.patch.object(ingest, "_stored_event", side_effect=stored):
        threads = [threading.Thread(target=send, args=(body,)) for _ in range(COPIES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(status for status, _ in answers) == [202] * COPIES, answers
    assert sorted(answer["duplicate"] for _, answer in answers) == [False] + [True] * (COPIES - 1)
    assert {answer["event_id"] for _, answer in answers} == {"E-CONCURRENT"}
    assert Event.objects.filter(event_id="E-CONCURRENT").count() == 1

    # Two bodies under one new id, racing: the winner's copies are 202 (one original, one
    # duplicate), the other body's are 409 — none a 400 or a 500.
    answers.clear()
    looked.reset()
    first = event("E-CONFLICT", type="app_login", payload={})
    second = {**first, "payload": {"device": "other"}}
    with mock.patch.object(ingest, "_stored_event", side_effect=stored):
        threads = [
            threading.Thread(target=send, args=(payload,))
            for payload in (first, second, first, second)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(status for status, _ in answers) == [202, 202, 409, 409], answers
    accepted = sorted(answer["duplicate"] for status, answer in answers if status == 202)
    assert accepted == [False, True]
    assert Event.objects.filter(event_id="E-CONFLICT").count() == 1
