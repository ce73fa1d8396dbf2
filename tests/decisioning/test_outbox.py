"""The database is the truth for queued work: an event or a batch chunk is a row before it
is a task, a broker that is down never fails the caller, and the sweeper queues again
what the queue lost — exactly once per threshold, deciding once."""

from __future__ import annotations

import contextlib
import datetime
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown
from prometheus_client import REGISTRY

from campaigns.models import CampaignRun
from customers.models import Event
from decisioning import tasks
from decisioning.decisions.snapshots import snapshots
from decisioning.models import ChunkDispatch, Decision, EventOutbox
from decisioning.outbox import sweep
from decisioning.runs import batch
from decisioning.runs.batch import campaign_run_start, run_chunk_execute
from decisioning.signals.ingest import event_ingest
from ledger.models import AuditRecord
from tests.decisioning.catalog import small_bank, weekly_batch
from tests.factories import ConsentFactory, CustomerFactory

pytestmark = pytest.mark.django_db

THRESHOLD = 60.0


@pytest.fixture(autouse=True)
def sweeper_settings(settings):
    settings.CROSSSELL_SWEEPER_THRESHOLD_SECONDS = THRESHOLD
    settings.CROSSSELL_RUN_CHUNK_LEASE_SECONDS = 120.0
    settings.CROSSSELL_RUN_CHUNK_MAX_FAILURES = 3
    settings.CROSSSELL_SWEEPER_MAX_EVENT_DISPATCHES = 10
    snapshots.clear()
    yield settings
    snapshots.clear()


def later(seconds: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=seconds)


def broker_down(task):
    """The task's enqueue raises what kombu raises when Redis does not answer."""
    return mock.patch.object(
        task, "apply_async", side_effect=BrokerDown("Error 111 connecting to redis:6379.")
    )


def enqueue_failures(task_name: str) -> float:
    return REGISTRY.get_sample_value("crosssell_enqueue_failures_total", {"task": task_name}) or 0.0


# --- events ---------------------------------------------------------------------------------


@pytest.fixture
def bank(db):
    return small_bank()


@pytest.fixture
def person(db):
    customer = CustomerFactory(external_id="C-OUTBOX")
    for channel in ("push", "sms", "email"):
        ConsentFactory(customer=customer, channel=channel)
    return customer


def _ingest(person, event_id="PF-1"):
    return event_ingest(
        actor="api:test",
        event_id=event_id,
        type="payment_failed",
        occurred_at=timezone.now(),
        customer={"external_id": person.external_id},
        payload={"amount": 42.5},
    )


def test_an_accepted_event_is_written_with_its_outbox_row_in_the_same_transaction(bank, person):
    ingested = _ingest(person)
    assert ingested.event.status == "accepted"
    row = EventOutbox.objects.get(event=ingested.event)
    assert row.dispatches == 1


def test_a_broker_down_at_ingest_leaves_the_event_accepted_and_counts_the_failure(
    bank, person, django_capture_on_commit_callbacks, caplog
):
    before = enqueue_failures("decisioning.process_event")
    with broker_down(tasks.process_event), django_capture_on_commit_callbacks(execute=True):
        ingested = _ingest(person)
    assert not ingested.duplicate
    event = Event.objects.get(pk=ingested.event.pk)
    assert event.status == "accepted" and not Decision.objects.filter(event=event).exists()
    assert enqueue_failures("decisioning.process_event") == before + 1
    assert "broker unavailable" in caplog.text


def test_the_sweeper_processes_an_event_the_broker_lost_once_the_threshold_passed(
    bank, person, django_capture_on_commit_callbacks
):
    with broker_down(tasks.process_event), django_capture_on_commit_callbacks(execute=True):
        event = _ingest(person).event
    early = sweep(now=later(THRESHOLD / 2))
    assert early.events_redispatched == 0
    assert Event.objects.get(pk=event.pk).status == "accepted"

    report = sweep(now=later(THRESHOLD + 1))
    assert report.events_redispatched == 1
    assert Event.objects.get(pk=event.pk).status == "processed"
    assert Decision.objects.filter(event=event).count() == 1
    # The next sweep sees it processed and clears its row.
    assert sweep(now=later(THRESHOLD + 2)).events_cleared == 1
    assert not EventOutbox.objects.exists()


def test_an_event_left_accepted_is_redispatched_exactly_once_and_decided_once(bank, person):
    # Nothing ran the commit callback: the event sits accepted, as after a Redis restart.
    event = _ingest(person).event
    moment = later(THRESHOLD + 1)
    with mock.patch.object(
        tasks.process_event, "apply_async", wraps=tasks.process_event.apply_async
    ) as queued:
        first = sweep(now=moment)
        second = sweep(now=moment)
    assert (first.events_redispatched, second.events_redispatched) == (1, 0)
    assert queued.call_count == 1
    # Processed by the first sweep's dispatch: the second clears its row.
    assert second.events_cleared == 1 and not EventOutbox.objects.filter(event=event).exists()
    assert Decision.objects.filter(event=event).count() == 1
    assert Decision.objects.filter(event=event, campaign=bank.hardship_campaign).count() == 1


def test_processing_the_same_event_twice_decides_once(bank, person):
    event = _ingest(person).event
    tasks.process_event(event.pk)
    tasks.process_event(event.pk)
    assert Decision.objects.filter(event=event).count() == 1


def test_an_event_that_never_gets_processed_is_given_up_after_its_dispatch_limit(
    bank, person, sweeper_settings
):
    sweeper_settings.CROSSSELL_SWEEPER_MAX_EVENT_DISPATCHES = 3
    event = _ingest(person).event
    with mock.patch.object(tasks.process_event, "apply_async") as queued:
        reports = [sweep(now=later((THRESHOLD + 1) * step)) for step in range(1, 5)]
    assert [r.events_redispatched for r in reports] == [1, 1, 0, 0]
    assert queued.call_count == 2
    assert reports[-1].events_given_up == 1
    assert EventOutbox.objects.get(event=event).dispatches == 3


def test_the_sweeper_stops_at_the_first_broker_refusal(bank, person):
    for number in range(3):
        _ingest(person, event_id=f"PF-{number}")
    with broker_down(tasks.process_event) as refused:
        report = sweep(now=later(THRESHOLD + 1))
    assert report.events_redispatched == 0
    assert refused.call_count == 1
    assert Event.objects.filter(status="accepted").count() == 3


def test_manage_py_sweep_runs_one_sweep_and_prints_its_report(bank, person, capsys):
    event = _ingest(person).event
    EventOutbox.objects.filter(event=event).update(dispatched_at=later(-(THRESHOLD + 1)))
    call_command("sweep")
    assert '"events_redispatched": 1' in capsys.readouterr().out
    assert Event.objects.get(pk=event.pk).status == "processed"


# --- batch runs -------------------------------------------------------------------------------


@pytest.fixture
def customers(db):
    people = CustomerFactory.create_batch(24)
    for customer in people[::2]:
        ConsentFactory(customer=customer, channel="email")
    return people


def _start(**kwargs):
    campaign = weekly_batch(small_bank())
    return campaign_run_start(actor="user:maria", campaign=campaign, chunk_size=8, **kwargs)


def test_a_chunk_run_twice_stores_no_duplicate_decision(customers):
    run = _start(dispatch=False)
    chunk = run.chunks.order_by("first_customer_id").first()
    assert run_chunk_execute(chunk_pk=chunk.pk) is True
    # A second delivery, even one whose claim the first never released, stores nothing.
    ChunkDispatch.objects.filter(pk=chunk.pk).update(claimed_at=None)
    assert run_chunk_execute(chunk_pk=chunk.pk) is False
    assert Decision.objects.filter(run=run).count() == chunk.customers
    assert Decision.objects.filter(run=run).values("customer").distinct().count() == 8


def test_a_delivery_while_another_holds_a_live_claim_stores_nothing(customers):
    run = _start(dispatch=False)
    chunk = run.chunks.order_by("first_customer_id").first()
    ChunkDispatch.objects.filter(pk=chunk.pk).update(claimed_at=timezone.now())
    assert run_chunk_execute(chunk_pk=chunk.pk) is False
    assert not Decision.objects.filter(run=run).exists()


def test_a_run_started_while_the_broker_is_down_completes_once_the_sweeper_runs(
    customers, django_capture_on_commit_callbacks
):
    with broker_down(tasks.run_chunk) as refused, django_capture_on_commit_callbacks(execute=True):
        run = _start()
    # One refusal stops the dispatch: the other chunks are not tried against a dead broker.
    assert refused.call_count == 1
    run.refresh_from_db()
    assert (run.status, run.processed_customers) == ("running", 0)

    report = sweep(now=later(THRESHOLD + 1))
    run.refresh_from_db()
    assert report.chunks_redispatched == 3
    assert (run.status, run.processed_customers) == ("completed", 24)
    assert Decision.objects.filter(run=run).count() == 24


def test_a_stalled_run_with_chunks_lost_from_the_queue_is_redispatched_and_completes(customers):
    run = _start(dispatch=False)  # its chunks never reached a worker
    assert sweep(now=later(THRESHOLD / 2)).chunks_redispatched == 0
    report = sweep(now=later(THRESHOLD + 1))
    run.refresh_from_db()
    assert report.chunks_redispatched == 3
    assert run.status == "completed" and run.processed_customers == 24


def test_a_chunk_whose_worker_died_is_taken_over_after_its_lease_and_counted(customers):
    run = _start(dispatch=False)
    chunks = list(run.chunks.order_by("first_customer_id"))
    run_chunk_execute(chunk_pk=chunks[0].pk)
    run_chunk_execute(chunk_pk=chunks[1].pk)
    # A worker claimed the last chunk and was killed.
    ChunkDispatch.objects.filter(pk=chunks[2].pk).update(claimed_at=timezone.now(), attempts=1)
    assert sweep(now=later(60)).chunks_taken_over == 0  # within its 120 s lease
    report = sweep(now=later(121))
    run.refresh_from_db()
    assert report.chunks_taken_over == 1 and report.chunks_redispatched == 1
    assert run.status == "completed"
    dispatch = ChunkDispatch.objects.get(pk=chunks[2].pk)
    assert dispatch.failures == 1 and "not finished within 120 s" in dispatch.last_error
    assert Decision.objects.filter(run=run).count() == 24


def test_a_run_whose_chunk_keeps_failing_is_marked_failed_with_its_reason(customers):
    run = _start(dispatch=False)
    broken = run.chunks.order_by("first_customer_id").last()
    real = batch.evaluate_range

    def evaluate(loaded, campaign_id, first_id, last_id, now):
        if first_id == broken.first_customer_id:
            raise ValueError("holding row 17 has no product code")
        return real(loaded, campaign_id, first_id, last_id, now)

    with mock.patch("decisioning.runs.batch.evaluate_range", side_effect=evaluate):
        for chunk in run.chunks.order_by("first_customer_id"):
            with contextlib.suppress(ValueError):
                run_chunk_execute(chunk_pk=chunk.pk)
        first = sweep(now=later(THRESHOLD + 1))
        second = sweep(now=later(2 * (THRESHOLD + 1)))
        third = sweep(now=later(3 * (THRESHOLD + 1)))
    run.refresh_from_db()
    assert (first.chunks_redispatched, second.chunks_redispatched) == (1, 1)
    assert third.chunks_redispatched == 0
    assert run.status == "failed" and run.finished_at is not None
    assert "failed 3 times" in run.error
    assert "ValueError: holding row 17 has no product code" in run.error
    assert run.processed_customers == 16
    record = AuditRecord.objects.get(action="run_failed", object_id=str(run.pk))
    assert "holding row 17" in record.data["reason"]


def test_a_run_whose_last_finish_was_cut_short_is_completed_by_the_sweeper(customers):
    run = _start(dispatch=False)
    for chunk in run.chunks.all():
        run_chunk_execute(chunk_pk=chunk.pk)
    CampaignRun.objects.filter(pk=run.pk).update(status="running", finished_at=None)
    assert sweep().runs_completed == 1
    run.refresh_from_db()
    assert run.status == "completed"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_same_chunk_at_once_store_it_once(
    integration_services, ledger_allows_live_server_flush
):
    import threading

    from django.db import connections

    CustomerFactory.create_batch(24)
    run = _start(dispatch=False)
    chunk = run.chunks.order_by("first_customer_id").first()
    start = threading.Barrier(2, timeout=30)
    results: list[bool] = []

    def deliver():
        try:
            start.wait()
            results.append(run_chunk_execute(chunk_pk=chunk.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == [False, True]
    assert Decision.objects.filter(run=run).count() == chunk.customers
    assert Decision.objects.filter(run=run).values("customer").distinct().count() == 8
