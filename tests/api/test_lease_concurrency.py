"""Two OS processes leasing the same channel at once on PostgreSQL never receive the
same message (SELECT ... FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import multiprocessing

import pytest
from django.db import connections

from campaigns.models import ContactPolicy
from decisioning.models import Message
from decisioning.outbound.lease import messages_lease
from tests.api.test_messages import queue_message
from tests.decisioning.catalog import small_bank
from tests.factories import ConsentFactory, CustomerFactory

MESSAGES = 300
LEASERS = 2


def _leaser(index: int, start, results) -> None:
    connections.close_all()  # never share the parent's connection
    start.wait()
    leased: list[str] = []
    while True:
        batch = messages_lease(
            actor=f"system:leaser{index}", channel="sms", max_messages=7, lease_seconds=600
        )
        if not batch.leased:
            break
        leased += [str(item.message.pk) for item in batch.leased]
    results.put((index, leased))
    connections.close_all()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_processes_leasing_at_once_never_receive_the_same_message(integration_services):
    bank = small_bank()
    ContactPolicy.objects.filter(is_active=True).update(quiet_channels=[])
    for _ in range(MESSAGES):
        person = CustomerFactory()
        ConsentFactory(customer=person, channel="sms")
        queue_message(person, bank.fuel_card, bank.fuel_campaign)

    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    connections.close_all()  # children must not inherit an open connection
    processes = [
        context.Process(target=_leaser, args=(index, start, results)) for index in range(LEASERS)
    ]
    for process in processes:
        process.start()
    start.set()
    reports = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0] * LEASERS

    everything = [message_id for leased in reports.values() for message_id in leased]
    assert len(everything) == len(set(everything)), "a message was leased twice"
    assert len(everything) == MESSAGES
    assert all(reports[index] for index in range(LEASERS)), "both processes got work"
    assert Message.objects.filter(status="leased", lease_count=1).count() == MESSAGES
