"""Concurrent writers from several processes, with two sealers racing, on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import random
import time

import pytest
from django.db import connections, transaction
from django.db.models import Sum

from ledger.choices import AuditKind
from ledger.models import AuditSealMembership
from ledger.sealer import seal_all_pending, seal_pending
from ledger.services import audit
from ledger.verify import verify_ledger

WRITERS = 4
TRANSACTIONS_PER_WRITER = 150
RECORDS_PER_TRANSACTION = 3


def _writer(index: int, start) -> None:
    """Append records in short transactions that commit out of seq order."""
    connections.close_all()
    rng = random.Random(index)
    start.wait()
    for n in range(TRANSACTIONS_PER_WRITER):
        with transaction.atomic():
            for k in range(RECORDS_PER_TRANSACTION):
                audit(
                    kind=AuditKind.OFFER_RELEASED,
                    action="offer_released",
                    actor=f"system:writer{index}",
                    object_type="decision",
                    object_id=f"{index}-{n}-{k}",
                    customer_ref=f"cust_{index}",
                    channel="sms",
                    data={"writer": index, "n": n, "k": k},
                )
                if rng.random() < 0.3:
                    time.sleep(rng.random() / 200)  # hold the transaction open a little
    connections.close_all()


def _sealer(stop) -> None:
    connections.close_all()
    while not stop.is_set():
        if seal_pending(max_records=97) is None:
            time.sleep(0.01)
    connections.close_all()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_leave_a_ledger_that_verifies_with_every_record_sealed_once(
    integration_services, ledger_baseline
):
    context = multiprocessing.get_context("fork")
    start, stop = context.Event(), context.Event()
    connections.close_all()  # children must not inherit an open connection
    writers = [context.Process(target=_writer, args=(i, start)) for i in range(WRITERS)]
    second_sealer = context.Process(target=_sealer, args=(stop,))
    for process in [*writers, second_sealer]:
        process.start()
    start.set()
    verified_while_busy = []
    while any(p.is_alive() for p in writers):
        if seal_pending(max_records=89) is None:
            time.sleep(0.005)
        if len(verified_while_busy) < 3 and ledger_baseline.seals().count() > 5 * (
            len(verified_while_busy) + 1
        ):
            # Verification while writers append and the other sealer seals.
            verified_while_busy.append(verify_ledger())
    for process in writers:
        process.join()
    stop.set()
    second_sealer.join(timeout=30)
    assert [p.exitcode for p in [*writers, second_sealer]] == [0] * (WRITERS + 1)

    assert verified_while_busy and all(r.ok for r in verified_while_busy), [
        r.summary() for r in verified_while_busy
    ]
    seal_all_pending()

    expected = WRITERS * TRANSACTIONS_PER_WRITER * RECORDS_PER_TRANSACTION
    report = verify_ledger()
    assert report.ok, report.summary()
    assert report.unsealed_records == 0
    written = ledger_baseline.records()
    assert written.count() == expected
    sealed = AuditSealMembership.objects.filter(record_id__gt=ledger_baseline.seq)
    assert sealed.count() == expected
    new_seals = ledger_baseline.seals()
    assert new_seals.aggregate(total=Sum("record_count"))["total"] == expected
    assert set(sealed.values_list("record_id", flat=True)) == set(
        written.values_list("seq", flat=True)
    )
    assert sealed.values("seal_id").distinct().count() == new_seals.count() > 1
