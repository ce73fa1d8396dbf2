import datetime

import pytest
from django.db import connection
from django.utils import timezone

from core.exceptions import Conflict, ValidationFailed
from customers.models import Event
from decisioning.decisions.inbound import decide_inbound
from decisioning.decisions.snapshots import snapshots
from decisioning.models import Contact, Decision, Message
from decisioning.signals.ingest import event_ingest, events_resolve_pending
from decisioning.signals.process import event_process
from ledger.models import AuditRecord
from tests.decisioning.catalog import add_content, small_bank
from tests.factories import ConsentFactory, CustomerFactory, IdentityLinkFactory, daytime_zone

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
# Signals are processed on the real clock, and a trigger fires on events at most 24 hours
# old (tests/decisioning/test_triggers.py): the events here are a minute old.
FRESH = timezone.now().replace(microsecond=0) - datetime.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


@pytest.fixture
def bank():
    return small_bank()


def _ingest(customer, event_id="E-1", type="payment_failed", **extra):
    return event_ingest(
        actor="api:test",
        event_id=event_id,
        type=type,
        occurred_at=FRESH,
        customer={"external_id": customer.external_id},
        **extra,
    )


def test_inbound_decision_releases_approved_content_and_audits_each_offer(bank):
    customer = CustomerFactory()
    decision = decide_inbound(actor="api:branch", customer=customer, channel="branch", now=NOON)
    assert decision.offers, decision.explanation["outcome"]
    assert decision.expires_at > NOON
    released = AuditRecord.objects.filter(kind="offer_released", object_id=str(decision.pk))
    assert released.count() == len(decision.offers)
    record = released.first()
    assert record.customer_ref == customer.pseudonym
    assert customer.external_id not in str(record.data)
    assert {"content_hash", "content_version", "policy_version", "rationale"} <= set(record.data)
    assert Contact.objects.filter(decision=decision).count() == len(decision.offers)


def test_content_without_approval_is_never_released(bank):
    bank.savings.contents.filter(channel="branch").delete()
    add_content(bank.savings, "branch", version=2, approve=False)
    customer = CustomerFactory()
    decision = decide_inbound(
        actor="api:branch", customer=customer, channel="branch", max_offers=3, now=NOON
    )
    assert "SAVINGS_RETAIN" not in [offer["offer_code"] for offer in decision.offers]
    assert {"offer_code": "SAVINGS_RETAIN", "reason": "content_not_approved"}.items() <= next(
        item for item in decision.suppressed if item["offer_code"] == "SAVINGS_RETAIN"
    ).items()


def test_inbound_decision_refuses_an_outbound_channel(bank):
    with pytest.raises(ValidationFailed):
        decide_inbound(actor="api:x", customer=CustomerFactory(), channel="sms")


def test_event_with_known_customer_queues_one_message_per_campaign(
    bank, django_capture_on_commit_callbacks
):
    customer = CustomerFactory()
    ConsentFactory(customer=customer, channel="push")
    with django_capture_on_commit_callbacks(execute=True):
        ingested = _ingest(customer)
    assert not ingested.duplicate
    decision = Decision.objects.get(event=ingested.event)
    assert decision.campaign == bank.hardship_campaign
    message = Message.objects.get(decision=decision)
    assert message.offer == bank.payment_help and message.status == "queued"
    ingested.event.refresh_from_db()
    assert ingested.event.status == "processed"


def test_processing_the_same_event_twice_yields_one_decision_and_one_message(
    bank, django_capture_on_commit_callbacks
):
    customer = CustomerFactory()
    ConsentFactory(customer=customer, channel="push")
    with django_capture_on_commit_callbacks(execute=True):
        event = _ingest(customer).event
    event_process(event_pk=event.pk)
    event_process(event_pk=event.pk)
    assert Decision.objects.filter(event=event).count() == 1
    assert Message.objects.filter(decision__event=event).count() == 1


def test_repeated_event_id_with_same_body_is_a_duplicate_and_changes_nothing(bank):
    customer = CustomerFactory()
    first = _ingest(customer)
    again = _ingest(customer)
    assert again.duplicate and again.event.pk == first.event.pk
    assert Event.objects.count() == 1


def test_repeated_event_id_with_a_different_body_is_a_conflict(bank):
    customer = CustomerFactory()
    _ingest(customer)
    with pytest.raises(Conflict):
        _ingest(customer, payload={"amount": 12})


def test_unresolved_event_is_kept_and_processed_once_its_identity_appears(
    bank, django_capture_on_commit_callbacks
):
    customer = CustomerFactory()
    ConsentFactory(customer=customer, channel="sms")
    ref = {"identifier": {"type": "card_token", "value": "tok-late"}}
    with django_capture_on_commit_callbacks(execute=True):
        ingested = event_ingest(
            actor="api:test",
            event_id="E-late",
            type="payment_failed",
            occurred_at=timezone.now(),
            customer=ref,
        )
    assert ingested.event.status == "unresolved"
    assert not Decision.objects.exists()
    IdentityLinkFactory(customer=customer, type="card_token", value="tok-late")
    with django_capture_on_commit_callbacks(execute=True):
        resolved = events_resolve_pending(customer=customer, identifier=("card_token", "tok-late"))
    assert resolved == 1
    ingested.event.refresh_from_db()
    assert ingested.event.status == "processed"
    assert Decision.objects.filter(event=ingested.event, customer=customer).count() == 1


def test_probabilistic_link_below_the_confidence_threshold_does_not_resolve(bank):
    customer = CustomerFactory()
    IdentityLinkFactory(
        customer=customer, type="device_id", value="dev-1", method="probabilistic", confidence=0.6
    )
    ingested = event_ingest(
        actor="api:test",
        event_id="E-dev",
        type="app_login",
        occurred_at=NOON,
        customer={"identifier": {"type": "device_id", "value": "dev-1"}},
    )
    assert ingested.event.status == "unresolved"


def test_decision_records_the_identity_link_it_relied_on(bank):
    customer = CustomerFactory()
    link = IdentityLinkFactory(
        customer=customer, type="device_id", value="dev-2", method="probabilistic", confidence=0.95
    )
    from customers.identity import resolve_customer

    resolution = resolve_customer({"identifier": {"type": "device_id", "value": "dev-2"}})
    decision = decide_inbound(
        actor="api:app", customer=customer, channel="mobile_app", identity=resolution, now=NOON
    )
    assert decision.explanation["identity"] == {
        "resolved": True,
        "link_id": link.pk,
        "method": "probabilistic",
        "confidence": 0.95,
        "reason": "",
    }


def test_snapshot_is_reused_until_the_catalog_version_moves(bank, django_assert_num_queries):
    customer = CustomerFactory()
    decide_inbound(actor="api:b", customer=customer, channel="branch", now=NOON)
    first = snapshots.get(NOON)
    assert snapshots.get(NOON) is first
    add_content(bank.savings, "web", version=2)
    assert snapshots.get(NOON) is not first


def test_control_group_customer_gets_nothing_but_the_decision_says_what_would_have_been(
    django_capture_on_commit_callbacks,
):
    from decimal import Decimal

    small_bank(control_group_pct=Decimal("100"))
    customer = CustomerFactory()
    decision = decide_inbound(actor="api:b", customer=customer, channel="branch", now=NOON)
    assert decision.control_group and decision.offers == []
    assert decision.explanation["would_have_offered"]
    assert not Contact.objects.filter(decision=decision).exists()
    assert not AuditRecord.objects.filter(kind="offer_released").exists()


def test_inbound_decision_reads_in_one_query_once_the_snapshot_is_warm(
    bank, django_assert_max_num_queries
):
    decide_inbound(actor="api:b", customer=CustomerFactory(), channel="branch", now=NOON)
    customer = CustomerFactory()
    # One read (context + catalog version); then the decision, its contacts and the
    # audit records of the released offers, inside one transaction (here a savepoint of
    # the test's): one multi-statement write on PostgreSQL, one per table elsewhere.
    with django_assert_max_num_queries(6) as captured:
        decision = decide_inbound(actor="api:b", customer=customer, channel="web", now=NOON)
    assert decision.offers
    sql = [q["sql"] for q in captured.captured_queries]
    reads = [q for q in sql if q.startswith("SELECT")]
    assert len(reads) == 1, reads
    writes = [q for q in sql if not q.startswith(("SELECT", "SAVEPOINT", "RELEASE"))]
    if connection.vendor == "postgresql":
        assert len(writes) == 1, writes
        assert [table for table in _TABLES if f'INSERT INTO "{table}"' in writes[0]] == [
            "decisioning_decision",
            "decisioning_contact",
            "compliance_auditrecord",
        ]
    else:
        assert len(writes) == 3, writes


_TABLES = (
    "decisioning_decision",
    "decisioning_message",
    "decisioning_contact",
    "compliance_auditrecord",
)


def test_holding_a_product_outside_any_campaign_still_blocks_its_family(bank):
    from tests.factories import HoldingFactory, ProductFactory

    ProductFactory(code="GOLD_CARD", family="cards", annual_value=90)
    customer = CustomerFactory()
    HoldingFactory(customer=customer, product_code="GOLD_CARD")
    decision = decide_inbound(
        actor="api:b", customer=customer, channel="branch", max_offers=3, now=NOON
    )
    assert "FUEL_CARD_CASHBACK" not in [offer["offer_code"] for offer in decision.offers]
    reasons = {item["offer_code"]: item["reason"] for item in decision.suppressed}
    assert reasons["FUEL_CARD_CASHBACK"] == "holds_product"


def test_erasure_redacts_the_customers_decisions_but_keeps_what_was_released(bank):
    from decisioning.rights.erasure import customer_erase

    customer = CustomerFactory(attributes={"salary": 4321})
    decision = decide_inbound(
        actor="api:b", customer=customer, channel="branch", max_offers=3, now=NOON
    )
    released = [offer["offer_code"] for offer in decision.offers]
    external_id = customer.external_id
    # The compact explanation names the customer by the row alone (no external id in it).
    assert external_id not in str(decision.explanation)
    erasure = customer_erase(actor="user:dpo", customer=customer)
    decision.refresh_from_db()
    stored = str(decision.explanation) + str(decision.offers)
    assert external_id not in stored and "4321" not in stored
    assert [offer["offer_code"] for offer in decision.offers] == released
    assert decision.explanation["redacted"] == "erasure"
    assert erasure.summary["decisions_redacted"] == 1


def test_a_service_actions_exemptions_are_audited_in_one_record_per_action_and_channel(
    bank, django_capture_on_commit_callbacks
):
    # no marketing consent on any channel; push outside its quiet hours, whatever the hour
    customer = CustomerFactory(time_zone=daytime_zone())
    ConsentFactory(customer=customer, channel="push", status="revoked")
    with django_capture_on_commit_callbacks(execute=True):
        ingested = _ingest(customer)
    decision = Decision.objects.get(event=ingested.event)
    assert Message.objects.get(decision=decision).offer == bank.payment_help
    records = list(
        AuditRecord.objects.filter(action="service_exemption", object_id=str(decision.pk))
    )
    assert [(r.object_repr, r.channel) for r in records] == [("PAYMENT_HELP", "push")]
    exemptions = {item["rule"]: item for item in records[0].data["exemptions"]}
    assert len(exemptions) == len(records[0].data["exemptions"]) > 1  # each rule, once
    assert exemptions["no_consent"]["would_have_blocked"]  # push consent was revoked
