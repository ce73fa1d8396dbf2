"""The decision store's writes: the decision, its contacts, queued messages and the audit
records of inbound releases in one transaction — on PostgreSQL one multi-statement
round trip (``decisioning.decisions.store._write_batched``), elsewhere the ORM.

These tests run outside a test transaction (``transaction=True``), as the API and the
workers do, so the autocommit path — the batch as its own implicit transaction — is
the one exercised; the tests in ``test_services.py`` cover the same store inside a
caller's transaction (a savepoint)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.metrics import DECISIONS
from customers.models import Event
from decisioning.decisions.inbound import decide_inbound
from decisioning.decisions.snapshots import current_snapshot
from decisioning.models import Contact, Decision, Message
from decisioning.signals.process import decide_triggered, event_process, trigger_event
from ledger.hashing import HASHED_FIELDS, record_hash_of
from ledger.models import AuditRecord
from tests.decisioning.catalog import fuel_purchase, small_bank
from tests.factories import ConsentFactory, CustomerFactory, IdentityLinkFactory

pytestmark = pytest.mark.django_db(transaction=True)

NOON = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _ledger_flushable(ledger_allows_live_server_flush):
    """Each test's teardown empties every table, which the ledger's triggers refuse."""


def _counted(outcome: str) -> float:
    return DECISIONS.labels(mode="inbound", outcome=outcome)._value.get()


def _rehashed(record: AuditRecord) -> str:
    return record_hash_of({name: getattr(record, name) for name in HASHED_FIELDS})


def test_an_inbound_decision_in_autocommit_is_written_whole_and_on_postgresql_in_one_round_trip():
    small_bank()
    decide_inbound(actor="api:web", customer=CustomerFactory(), channel="web", now=NOON)
    customer = CustomerFactory()
    counted = _counted("released")
    with CaptureQueriesContext(connection) as captured:
        decision = decide_inbound(actor="api:web", customer=customer, channel="web", now=NOON)
    sql = [query["sql"] for query in captured.captured_queries]
    if connection.vendor == "postgresql":
        # the context read, then everything written as one statement: no BEGIN, no COMMIT
        assert len(sql) == 2, sql
        assert sql[0].startswith("SELECT") and sql[1].startswith("INSERT INTO")
    assert decision.outcome_reason == "released" and decision.offers
    stored = Decision.objects.get(pk=decision.pk)
    assert stored.explanation == decision.explanation
    assert stored.offers == decision.offers and stored.suppressed == decision.suppressed
    assert stored.created_at == NOON and stored.requested_by == "api:web"
    contacts = Contact.objects.filter(decision=decision)
    assert sorted(contacts.values_list("offer__code", "channel")) == sorted(
        (offer["offer_code"], offer["channel"]) for offer in decision.offers
    )
    assert all(contact.released_at == NOON for contact in contacts)
    released = AuditRecord.objects.filter(kind="offer_released", object_id=str(decision.pk))
    assert released.count() == len(decision.offers)
    for record in AuditRecord.objects.filter(object_id=str(decision.pk)):
        assert _rehashed(record) == record.record_hash
    # the metrics are counted once the write is committed (at once, in autocommit)
    assert _counted("released") == counted + 1


def test_a_signal_decided_again_for_the_same_campaign_keeps_the_first_decision_and_writes_nothing():
    bank = small_bank()
    customer = CustomerFactory()
    ConsentFactory(customer=customer, channel="push")
    IdentityLinkFactory(customer=customer, type="device_id")
    event = fuel_purchase(customer, event_id="E-fuel-twice", at=NOON)
    first = {d.campaign_id: d for d in event_process(event_pk=event.pk, now=NOON)}
    assert bank.fuel_campaign.pk in first and first[bank.fuel_campaign.pk].offers
    counts = (Decision.objects.count(), Contact.objects.count(), Message.objects.count())
    records = AuditRecord.objects.count()
    loaded = current_snapshot(NOON)
    plan = loaded.engine.plans[bank.fuel_campaign.pk]
    # As a second delivery of the same signal would, racing the first: the insert of the
    # (event, campaign) decision conflicts and the first one is returned.
    again, created = decide_triggered(
        loaded=loaded,
        plan=plan,
        event=Event.objects.select_related("customer").get(pk=event.pk),
        signal=trigger_event(event),
        mode="event",
        now=NOON,
        requested_by="system:process_event",
    )
    assert not created and again.pk == first[bank.fuel_campaign.pk].pk
    assert (Decision.objects.count(), Contact.objects.count(), Message.objects.count()) == counts
    assert AuditRecord.objects.count() == records
    # the connection is usable after the refused write (no broken transaction left)
    assert Decision.objects.filter(event=event).count() == len(first)
