"""The soak: a short run through the WSGI app holds every invariant, and each invariant
check reports a violation built in the database."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.utils import timezone

from core.models import ApiClient
from customers.choices import EventStatus
from customers.models import Customer, Event
from decisioning.choices import MessageStatus
from decisioning.decisions.inbound import decide_inbound
from decisioning.models import Contact, Decision, Message
from decisioning.signals.ingest import event_ingest
from demo.seed import SeedOptions, bank_today, seed_demo_bank
from demo.soak import (
    Call,
    Driver,
    RightsChange,
    SoakLog,
    SoakOptions,
    check_events_once,
    check_invariants,
    check_ledger,
    check_no_server_errors,
    check_nothing_released_after_rights,
    check_releases_audited,
    create_keys,
    load_people,
    new_log,
    retire_keys,
)
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from ledger.services import build_record
from offers.choices import OfferKind
from offers.models import OfferContent

CUSTOMERS = 300


def _seed() -> None:
    seed_demo_bank(SeedOptions(customers=CUSTOMERS, seed=11, as_of=bank_today()))


@pytest.fixture
def bank(db):
    _seed()


def _released_sales(channel: str = "web") -> tuple[Customer, Decision]:
    """A customer and an inbound decision that released a sales offer to them."""
    for customer in Customer.objects.order_by("pk")[:CUSTOMERS]:
        decision = decide_inbound(actor="system:test", customer=customer, channel=channel)
        if Contact.objects.filter(decision=decision, kind=OfferKind.SALES).exists():
            return customer, decision
    raise AssertionError("no customer of the seeded bank is offered anything on the web")


# --- a short soak, end to end ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_short_soak_through_the_wsgi_app_drives_every_endpoint_and_holds_every_invariant(
    ledger_allows_live_server_flush,
):
    _seed()
    log = new_log()
    keys = create_keys(log.tag)
    options = SoakOptions(
        seconds=6, rate=20, base_url="http://testserver", seed=3, workers=1, erasures=2
    )
    driver = Driver(
        options,
        keys,
        log,
        load_people(),
        transport=httpx.WSGITransport(app=get_wsgi_application()),
    )
    driver.run()
    retire_keys(keys)

    _waited, report = check_invariants(log, seal_first=True, drain_seconds=10)

    endpoints = {call.endpoint for call in log.calls}
    assert {
        "POST /events/",
        "POST /decisions/",
        "POST /channels/{channel}/messages/lease/",
        "PUT /customers/{id}/consents/{channel}/",
        "DELETE /customers/{id}/",
    } <= endpoints
    assert len(log.calls) == 120
    assert log.accepted_events and log.inbound and len(log.erasures) == 2 and log.revokes
    assert [inv.name for inv in report] == [
        "every accepted event processed exactly once",
        "every released offer audited",
        "the audit chain verifies",
        "nothing released after a revoke or an erasure",
        "no answer >= 500",
    ]
    assert [inv.name for inv in report if not inv.held] == [], report
    assert report[0].numbers["processed"] + report[0].numbers["erased since"] == len(
        log.accepted_events
    )
    assert not ApiClient.objects.filter(name__in=keys.names, is_active=True).exists()


def test_the_command_refuses_when_no_server_answers(db):
    with pytest.raises(CommandError, match="no server answers"):
        call_command("soak", "--minutes", "0.1", "--rate", "1", "--url", "http://127.0.0.1:9")


# --- each check reports what it exists for ---------------------------------------------------------


def test_an_accepted_event_never_processed_is_reported(bank):
    log = new_log()
    customer = Customer.objects.earliest("pk")
    Event.objects.create(
        event_id=f"{log.event_prefix}1",
        type="app_login",
        occurred_at=timezone.now(),
        customer=customer,
        customer_ref={"external_id": customer.external_id},
        status=EventStatus.PROCESSED,
        body_hash="0" * 64,
    )
    log.accepted_events.add(f"{log.event_prefix}1")
    assert check_events_once(log).held

    Event.objects.filter(event_id=f"{log.event_prefix}1").update(status=EventStatus.ACCEPTED)

    result = check_events_once(log)
    assert not result.held
    assert result.numbers["still accepted"] == 1
    assert result.examples == (f"event {log.event_prefix}1 still accepted",)


def test_an_event_decided_twice_for_one_campaign_is_reported(
    bank, django_capture_on_commit_callbacks
):
    log = new_log()
    customer = Customer.objects.earliest("pk")
    with django_capture_on_commit_callbacks(execute=True):
        event_ingest(
            actor="system:test",
            event_id=f"{log.event_prefix}1",
            type="payment_failed",
            occurred_at=timezone.now(),
            customer={"external_id": customer.external_id},
            payload={"amount": 120.5},
        )
    log.accepted_events.add(f"{log.event_prefix}1")
    decision = Decision.objects.filter(event__event_id=f"{log.event_prefix}1").first()
    assert decision is not None
    assert check_events_once(log).held

    # The unique index would refuse the copy; the test's transaction puts it back.
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX decision_one_per_event_campaign")
    decision.pk = uuid.uuid4()
    decision.save(force_insert=True)

    result = check_events_once(log)
    assert not result.held
    assert result.numbers["(event, campaign) decided twice"] == 1


def _leased_message(customer: Customer, decision: Decision) -> Message:
    content = OfferContent.objects.filter(channel="push").select_related("offer").earliest("pk")
    now = timezone.now()
    return Message.objects.create(
        decision=decision,
        customer=customer,
        offer=content.offer,
        content=content,
        channel="push",
        status=MessageStatus.LEASED,
        deliver_after=now,
        lease_expires_at=now + timedelta(seconds=60),
        lease_id=uuid.uuid4(),
        lease_count=1,
        created_at=now,
    )


def test_a_leased_message_without_its_release_record_is_reported(bank):
    log = new_log()
    customer, decision = _released_sales()
    assert check_releases_audited(log).held

    message = _leased_message(customer, decision)  # leased without the gate's record
    log.leases.append((str(message.pk), str(message.lease_id)))

    result = check_releases_audited(log)
    assert not result.held
    assert result.numbers["lease answers without their record"] == 1
    assert result.numbers["messages missing a lease record"] == 1


def test_an_inbound_release_without_its_record_is_reported(bank):
    log = new_log()
    customer, decision = _released_sales()
    held = check_releases_audited(log)
    assert held.held and held.numbers["inbound releases"] == decision.offers_released

    contact = Contact.objects.filter(decision=decision).earliest("pk")
    Contact.objects.create(
        customer=customer,
        decision=decision,
        offer=contact.offer,
        product_code=contact.product_code,
        family=contact.family,
        kind=contact.kind,
        channel="mobile_app",
        released_at=timezone.now(),
    )

    result = check_releases_audited(log)
    assert not result.held
    assert result.numbers["inbound releases without their record"] == 1


def test_a_record_whose_hash_does_not_match_fails_the_ledger_check(bank):
    assert check_ledger(seal_first=True).held

    record = build_record(kind=AuditKind.MESSAGE, action="soak_test", actor="system:test")
    record.data = {"changed": "after hashing"}
    AuditRecord.objects.bulk_create([record])

    result = check_ledger(seal_first=True)
    assert not result.held
    assert result.numbers["intact"] is False
    assert result.examples and result.examples[0].startswith("record #")


def test_a_sales_release_after_a_revoke_answered_is_reported(bank):
    log = new_log()
    customer = Customer.objects.earliest("pk")
    log.revokes.append(RightsChange(customer.pk, customer.pseudonym, "web", timezone.now()))
    log.revokes.append(RightsChange(customer.pk, customer.pseudonym, "sms", timezone.now()))
    assert check_nothing_released_after_rights(log).held

    # As if the revoke had not stopped the engine: a web release after it answered.
    customer, decision = _released_sales("web")
    log.revokes[0] = RightsChange(
        customer.pk, customer.pseudonym, "web", decision.created_at - timedelta(seconds=1)
    )
    # A revoke on another channel is not broken by a web release.
    log.revokes[1] = RightsChange(
        customer.pk, customer.pseudonym, "sms", decision.created_at - timedelta(seconds=1)
    )

    result = check_nothing_released_after_rights(log)
    assert not result.held
    sales = Contact.objects.filter(decision=decision, kind=OfferKind.SALES).count()
    # each sales offer: its offer_released record and its contact
    assert result.numbers["released after a revoke"] == 2 * sales
    assert all("web release" in example for example in result.examples)


def test_a_release_after_an_erasure_answered_is_reported(bank):
    log = new_log()
    customer, decision = _released_sales()
    log.erasures.append(
        RightsChange(
            customer.pk, customer.pseudonym, "", decision.created_at + timedelta(seconds=1)
        )
    )
    assert check_nothing_released_after_rights(log).held

    log.erasures[0] = RightsChange(
        customer.pk, customer.pseudonym, "", decision.created_at - timedelta(seconds=1)
    )

    result = check_nothing_released_after_rights(log)
    assert not result.held
    # the records, the contacts and the decision itself
    assert result.numbers["released after an erasure"] == 2 * decision.offers_released + 1


def test_an_answer_of_500_or_no_answer_is_reported():
    log = SoakLog(tag="t", started_at=timezone.now(), first_seq=0)
    log.add_call(Call("POST /events/", 202, 3.0))
    log.add_call(Call("POST /decisions/", 422, 3.0))
    assert check_no_server_errors(log).held

    log.add_call(Call("POST /decisions/", 503, 3.0))
    log.add_call(Call("POST /events/", 0, 30_000.0))

    result = check_no_server_errors(log)
    assert not result.held
    assert result.numbers["answers >= 500"] == 1
    assert result.numbers["no answer"] == 1
