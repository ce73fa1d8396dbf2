"""Concurrent first consent changes of one customer's channel (found by ``manage.py
soak``: two revokes racing answered one of them 500 on the unique consent)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.utils import timezone

from compliance.models import Consent
from decisioning.rights.consent import consent_change
from tests.factories import CustomerFactory

THREADS = 8
ROUNDS = 5


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_changes_of_a_channel_all_succeed_and_leave_one_consent(
    integration_services, ledger_allows_live_server_flush
):
    customers = CustomerFactory.create_batch(ROUNDS)
    failures: list[BaseException] = []
    lock = threading.Lock()

    for customer in customers:
        start = threading.Barrier(THREADS, timeout=30)

        def change(index: int, customer=customer, start=start) -> None:
            try:
                start.wait()
                consent_change(
                    actor="system:test",
                    customer=customer,
                    channel="push",
                    status="revoked" if index % 2 else "granted",
                    source="race",
                    captured_at=timezone.now(),
                )
            except BaseException as exc:
                with lock:
                    failures.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=change, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert failures == []
    for customer in customers:
        assert Consent.objects.filter(customer=customer, channel="push").count() == 1
