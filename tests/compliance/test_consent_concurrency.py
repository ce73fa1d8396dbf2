"""Concurrent first changes of one customer's consent or do-not-contact (found by
``manage.py soak``: two revokes racing answered one of them 500 on the unique consent)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.utils import timezone

from compliance.models import Consent, DoNotContact
from decisioning.rights.consent import consent_change, do_not_contact_change
from tests.factories import CustomerFactory

THREADS = 8
ROUNDS = 5


def _race(customers, act) -> list[BaseException]:
    """``act(index, customer)`` from THREADS threads at once, for each customer in turn."""
    failures: list[BaseException] = []
    lock = threading.Lock()
    for customer in customers:
        start = threading.Barrier(THREADS, timeout=30)

        def run(index: int, customer=customer, start=start) -> None:
            try:
                start.wait()
                act(index, customer)
            except BaseException as exc:
                with lock:
                    failures.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return failures


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_changes_of_a_channel_all_succeed_and_leave_one_consent(
    integration_services, ledger_allows_live_server_flush
):
    customers = CustomerFactory.create_batch(ROUNDS)
    failures = _race(
        customers,
        lambda index, customer: consent_change(
            actor="system:test",
            customer=customer,
            channel="push",
            status="revoked" if index % 2 else "granted",
            source="race",
            captured_at=timezone.now(),
        ),
    )
    assert failures == []
    for customer in customers:
        assert Consent.objects.filter(customer=customer, channel="push").count() == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_do_not_contact_requests_all_succeed_and_leave_one_entry(
    integration_services, ledger_allows_live_server_flush
):
    customers = CustomerFactory.create_batch(ROUNDS)
    failures = _race(
        customers,
        lambda index, customer: do_not_contact_change(
            actor="system:test", customer=customer, reason=f"asked by phone ({index})"
        ),
    )
    assert failures == []
    for customer in customers:
        assert DoNotContact.objects.filter(customer=customer).count() == 1
