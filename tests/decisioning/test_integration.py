"""The real-time and batch paths through Redis and a real Celery worker on PostgreSQL."""

import time

import pytest
from django.utils import timezone

from campaigns.models import CampaignRun
from decisioning.models import Decision, Message
from decisioning.runs.batch import campaign_run_start
from decisioning.signals.ingest import event_ingest
from tests.decisioning.catalog import small_bank, weekly_batch
from tests.factories import ConsentFactory, CustomerFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait_for(check, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"the worker did not finish within {seconds:.0f} s")


def test_event_is_decided_by_a_worker_and_queues_one_message(integration_services):
    bank = small_bank()
    customer = CustomerFactory()
    ConsentFactory(customer=customer, channel="push")
    ingested = event_ingest(
        actor="api:test",
        event_id="int-1",
        type="payment_failed",
        occurred_at=timezone.now(),
        customer={"external_id": customer.external_id},
    )
    message = _wait_for(lambda: Message.objects.filter(decision__event=ingested.event).first())
    assert message.offer == bank.payment_help
    # A duplicate delivery of the same signal decides nothing new.
    from decisioning.tasks import process_event

    process_event.delay(ingested.event.pk)
    time.sleep(1.0)
    assert Decision.objects.filter(event=ingested.event).count() == 1
    assert Message.objects.filter(decision__event=ingested.event).count() == 1


def test_batch_run_chunks_are_processed_by_workers(integration_services):
    campaign = weekly_batch(small_bank())
    people = CustomerFactory.create_batch(40)
    for person in people:
        ConsentFactory(customer=person, channel="email")
    run = campaign_run_start(actor="user:maria", campaign=campaign, chunk_size=10)
    done = _wait_for(
        lambda: CampaignRun.objects.filter(pk=run.pk, status="completed").first(), seconds=60
    )
    assert done.processed_customers == 40
    assert Decision.objects.filter(run=run).count() == 40
