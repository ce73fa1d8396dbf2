import datetime

import pytest
from django.utils import timezone

from customers.models import Event
from decisioning.decisions.inbound import decide_inbound
from decisioning.decisions.replay import decision_replay
from decisioning.decisions.snapshots import snapshots
from decisioning.models import Decision, Message
from decisioning.signals.ingest import event_ingest
from decisioning.signals.journeys import absence_triggers_fire
from tests.decisioning.catalog import activation_journey, small_bank
from tests.factories import ConsentFactory, CustomerFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


def _event(customer, event_id, type, days_ago):
    return Event.objects.create(
        event_id=event_id,
        type=type,
        occurred_at=NOW - datetime.timedelta(days=days_ago),
        customer=customer,
        customer_ref={"external_id": customer.external_id},
        status="processed",
        body_hash="x",
    )


@pytest.fixture
def journey():
    bank = small_bank()
    return activation_journey(bank, days=7)


def test_card_issued_and_not_activated_in_seven_days_fires_the_nudge_once(journey):
    customer = CustomerFactory()
    ConsentFactory(customer=customer, channel="email")
    issued = _event(customer, "issued-1", "card_issued", days_ago=8)
    assert absence_triggers_fire(now=NOW) == 1
    assert absence_triggers_fire(now=NOW) == 0
    decision = Decision.objects.get(event=issued, campaign=journey)
    assert decision.mode == "absence"
    assert Message.objects.filter(decision=decision).count() == 1


def test_activation_within_the_window_stops_the_journey(journey):
    customer = CustomerFactory()
    ConsentFactory(customer=customer, channel="email")
    _event(customer, "issued-2", "card_issued", days_ago=8)
    _event(customer, "activated-2", "card_activated", days_ago=6)
    assert absence_triggers_fire(now=NOW) == 0


def test_journey_waits_until_the_window_has_passed(journey):
    customer = CustomerFactory()
    _event(customer, "issued-3", "card_issued", days_ago=3)
    assert absence_triggers_fire(now=NOW) == 0


def test_the_trigger_event_itself_does_not_fire_a_journey_campaign(
    journey, django_capture_on_commit_callbacks
):
    customer = CustomerFactory()
    ConsentFactory(customer=customer, channel="email")
    with django_capture_on_commit_callbacks(execute=True):
        event_ingest(
            actor="api:t",
            event_id="issued-now",
            type="card_issued",
            # processed on the real clock: an event of "now" (an old one is refused, and
            # its refusal recorded, tests/decisioning/test_triggers.py)
            occurred_at=timezone.now(),
            customer={"external_id": customer.external_id},
        )
    assert not Decision.objects.filter(campaign=journey).exists()


def test_replay_under_unchanged_rules_reports_no_change():
    small_bank()
    customer = CustomerFactory()
    decision = decide_inbound(actor="api:b", customer=customer, channel="branch", now=NOW)
    replay = decision_replay(decision=decision, now=NOW)
    assert replay["diff"]["changed"] is False, replay["diff"]["summary"]


def test_replay_explains_an_offer_that_todays_rules_remove():
    bank = small_bank()
    customer = CustomerFactory()
    decision = decide_inbound(
        actor="api:b", customer=customer, channel="branch", max_offers=3, now=NOW
    )
    released = {offer["offer_code"] for offer in decision.offers}
    assert "LOAN_SPRING" in released
    bank.personal_loan.eligibility_rule = "age >= 99"
    bank.personal_loan.save()
    from compliance.versioning import bump_catalog_version

    bump_catalog_version()
    replay = decision_replay(decision=decision, now=NOW)
    removed = [c for c in replay["diff"]["offers"] if c["offer_code"] == "LOAN_SPRING"]
    assert removed and removed[0]["change"] == "removed"
    assert "ineligible" in removed[0]["why"]
    assert "snapshot_version" in replay["diff"]["versions"]
