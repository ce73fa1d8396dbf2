"""A trigger reads the signal: payload conditions, page patterns, a maximum age, and
inbound ``context.page`` weighing the offers it is relevant to (DESIGN.md "Journeys that
continue"; ``decisioning/engine/triggers.py``)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.services import campaign_update
from compliance.versioning import bump_catalog_version
from crosssell.services import api_client_create
from customers.models import Event
from decisioning import engine
from decisioning.decisions.explanation import full_trace
from decisioning.decisions.inbound import decide_inbound
from decisioning.decisions.snapshots import snapshots
from decisioning.engine.pages import page_matches, page_path
from decisioning.engine.scoring import context_factor
from decisioning.engine.triggers import trigger_verdict
from decisioning.models import Decision, Message
from decisioning.signals.ingest import event_ingest
from decisioning.signals.journeys import absence_triggers_fire
from decisioning.signals.process import event_process
from offers.choices import ProductFamily
from tests.api.conftest import Api
from tests.decisioning.catalog import add_content, small_bank
from tests.factories import (
    CampaignFactory,
    CampaignOfferFactory,
    ConsentFactory,
    CustomerFactory,
    IdentityLinkFactory,
    OfferFactory,
    ProductFactory,
    persona,
)

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
FUEL_ONLY = 'merchant_category in ("fuel") and amount > 0'


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


@pytest.fixture
def bank(db):
    return small_bank()


@pytest.fixture
def maker(db):
    return persona("maker", "marketer")


def _event(customer, event_id, type, *, at=NOW, payload=None) -> Event:
    return Event.objects.create(
        event_id=event_id,
        type=type,
        occurred_at=at,
        customer=customer,
        customer_ref={"external_id": customer.external_id},
        payload=payload or {},
        status="processed",
        body_hash="x",
    )


def _consenting_customer(**fields):
    """Reachable by push: consent and a device the bank is sure of."""
    customer = CustomerFactory(**fields)
    ConsentFactory(customer=customer, channel="push")
    IdentityLinkFactory(customer=customer, type="device_id")
    return customer


def _fuel_only(bank, maker):
    return campaign_update(
        actor=maker,
        campaign=bank.fuel_campaign,
        data={"trigger_conditions": {"card_transaction": {"condition": FUEL_ONLY}}},
    )


# --- the engine: pure ------------------------------------------------------------------------


def test_a_payload_rule_reads_keys_of_any_name_typed_by_their_value():
    rule = engine.parse_payload_rule('merchant_category in ("fuel") and amount >= 50')
    assert rule.fields() == {"merchant_category", "amount"}
    assert rule.evaluate({"merchant_category": "fuel", "amount": 50})
    assert not rule.evaluate({"merchant_category": "pharmacy", "amount": 80})
    # a missing key, or one of another type, makes its comparison false
    assert not rule.evaluate({"merchant_category": "fuel"})
    assert not rule.evaluate({"merchant_category": "fuel", "amount": "80"})
    assert engine.parse_payload_rule("card.mcc == 5541").evaluate({"card": {"mcc": 5541}})
    assert engine.parse_payload_rule("is_refund").evaluate({"is_refund": True})
    assert engine.parse_payload_rule(rule.to_text()) == rule
    assert engine.parse_payload_rule("").evaluate({})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("amount >=", "expected a value after '>=' at position 9"),
        ('merchant_category < "fuel"', "ordering needs numbers"),
        ('holds("FUEL_CARD")', "reads the customer, not the event"),
        ('amount in (1, "two")', "expected a number in the list"),
    ],
)
def test_a_payload_rule_with_a_syntax_or_type_error_is_refused(text, problem):
    with pytest.raises(engine.RuleError) as error:
        engine.parse_payload_rule(text)
    assert problem in error.value.message


def test_a_page_pattern_matches_the_section_and_below_and_ignores_the_query():
    assert page_matches("/loans/*", "/loans/personal")
    assert page_matches("/loans/*", "/loans") and page_matches("/loans/*", "/loans/")
    assert not page_matches("/loans/*", "/loansharks") and not page_matches("/loans/*", "/cards")
    assert page_path("https://bank.example/loans/car?amount=5000#top") == "/loans/car"
    assert page_path(42) is None and page_path("  ") is None


def _spec(**trigger) -> engine.CampaignSpec:
    return engine.CampaignSpec(
        id=1,
        code="C",
        kind="realtime",
        trigger_event_types=frozenset({"card_transaction"}),
        triggers={"card_transaction": engine.TriggerSpec("card_transaction", **trigger)},
    )


def test_the_trigger_refuses_old_future_and_unmatched_events_and_says_why():
    fuel = _spec(condition=engine.parse_payload_rule(FUEL_ONLY))
    fresh = engine.TriggerEvent(
        NOW - datetime.timedelta(hours=1), {"merchant_category": "fuel", "amount": 20}
    )
    assert trigger_verdict(fuel, "card_transaction", fresh, NOW).fired
    old = engine.TriggerEvent(NOW - datetime.timedelta(days=913), fresh.payload)
    verdict = trigger_verdict(fuel, "card_transaction", old, NOW)
    assert (verdict.fired, verdict.reason) == (False, "event_too_old")
    assert verdict.detail["max_age_hours"] == 24 and verdict.detail["age_hours"] > 21_000
    ahead = engine.TriggerEvent(NOW + datetime.timedelta(minutes=10), fresh.payload)
    assert trigger_verdict(fuel, "card_transaction", ahead, NOW).reason == "event_in_future"
    skewed = engine.TriggerEvent(NOW + datetime.timedelta(minutes=2), fresh.payload)
    assert trigger_verdict(fuel, "card_transaction", skewed, NOW).fired
    refund = engine.TriggerEvent(NOW, {"merchant_category": "fuel", "amount": -20})
    refused = trigger_verdict(fuel, "card_transaction", refund, NOW)
    assert refused.reason == "trigger_condition_not_met"
    assert refused.detail["payload"] == {"amount": -20, "merchant_category": "fuel"}


def test_a_journey_trigger_counts_its_age_from_the_end_of_the_wait():
    spec = _spec(max_age=datetime.timedelta(hours=24))
    wait = datetime.timedelta(days=3)
    due_an_hour_ago = engine.TriggerEvent(NOW - wait - datetime.timedelta(hours=1), waited=wait)
    assert trigger_verdict(spec, "card_transaction", due_an_hour_ago, NOW).fired
    due_two_days_ago = engine.TriggerEvent(NOW - wait - datetime.timedelta(days=2), waited=wait)
    assert trigger_verdict(spec, "card_transaction", due_two_days_ago, NOW).reason == (
        "event_too_old"
    )


def test_a_page_pattern_in_the_trigger_weights_gives_the_context_weight_and_says_so():
    offer = engine.OfferSpec(
        code="LOAN",
        product=engine.ProductSpec("LOAN_P", "Loan", "loans", 600.0),
        trigger_weights={"/loans/*": 2.5, "loan_calculator_used": 4.0, "page_view": 1.2},
    )
    assert context_factor(offer, None, "/loans/personal") == (
        2.5,
        "page /loans/* (/loans/personal)",
    )
    assert context_factor(offer, "loan_calculator_used", "/loans/car") == (
        4.0,
        "event loan_calculator_used",
    )
    assert context_factor(offer, "page_view", "/cards") == (1.2, "event page_view")
    assert context_factor(offer, None, "/cards") == (1.0, None)
    assert context_factor(offer, None, None) == (1.0, None)


# --- real-time campaigns on live events --------------------------------------------------------


def test_a_pharmacy_card_transaction_does_not_fire_the_fuel_campaign_while_a_fuel_purchase_does(
    bank, maker
):
    _fuel_only(bank, maker)
    customer = _consenting_customer()
    pharmacy = _event(
        customer,
        "tx-pharmacy",
        "card_transaction",
        payload={"merchant_category": "pharmacy", "amount": 30},
    )
    event_process(event_pk=pharmacy.pk, now=NOW)
    refused = Decision.objects.get(event=pharmacy, campaign=bank.fuel_campaign)
    assert refused.outcome_reason == "trigger_condition_not_met"
    assert refused.explanation["candidates"] == [] and not refused.offers
    assert refused.explanation["trigger"]["condition"] == FUEL_ONLY
    assert refused.explanation["trigger"]["payload"]["merchant_category"] == "pharmacy"
    assert not Message.objects.filter(decision=refused).exists()

    fuel = _event(
        customer, "tx-fuel", "card_transaction", payload={"merchant_category": "fuel", "amount": 30}
    )
    event_process(event_pk=fuel.pk, now=NOW)
    fired = Decision.objects.get(event=fuel, campaign=bank.fuel_campaign)
    assert fired.outcome_reason == "released"
    assert fired.explanation["trigger"]["fired"] is True
    assert fired.offers[0]["score_factors"]["context_weight"] == 3.0
    assert Message.objects.filter(decision=fired).count() == 1


def test_a_refund_at_a_fuel_merchant_fires_nothing(bank, maker):
    _fuel_only(bank, maker)
    refund = _event(
        _consenting_customer(),
        "tx-refund",
        "card_transaction",
        payload={"merchant_category": "fuel", "amount": -45.5},
    )
    event_process(event_pk=refund.pk, now=NOW)
    decision = Decision.objects.get(event=refund)
    assert decision.outcome_reason == "trigger_condition_not_met"
    assert not Message.objects.exists()


def test_a_campaign_without_conditions_fires_on_every_event_of_its_type_as_before(bank):
    assert bank.fuel_campaign.trigger_conditions == {}
    pharmacy = _event(
        _consenting_customer(),
        "tx-any",
        "card_transaction",
        payload={"merchant_category": "pharmacy", "amount": 30},
    )
    event_process(event_pk=pharmacy.pk, now=NOW)
    decision = Decision.objects.get(event=pharmacy)
    assert decision.outcome_reason == "released"
    assert decision.offers[0]["score_factors"]["context_weight"] == 3.0


def test_a_two_and_a_half_year_old_event_is_kept_fires_nothing_and_says_why(
    bank, django_capture_on_commit_callbacks
):
    customer = _consenting_customer()
    with django_capture_on_commit_callbacks(execute=True):
        ingested = event_ingest(
            actor="api:test",
            event_id="tx-ancient",
            type="card_transaction",
            occurred_at=timezone.now() - datetime.timedelta(days=913),
            customer={"external_id": customer.external_id},
            payload={"merchant_category": "fuel", "amount": 30},
        )
    event = Event.objects.get(pk=ingested.event.pk)
    assert event.status == "processed"
    decision = Decision.objects.get(event=event, campaign=bank.fuel_campaign)
    assert decision.outcome_reason == "event_too_old"
    assert decision.explanation["trigger"]["reason"] == "event_too_old"
    assert decision.explanation["trigger"]["max_age_hours"] == 24
    assert not Message.objects.exists()

    # ... and the console's event view and the API say so
    compliance = persona("officer", "compliance")
    from django.test import Client

    console = Client()
    console.force_login(compliance)
    page = console.get(reverse("decisioning:customer_360", args=[customer.external_id]))
    assert page.status_code == 200 and "Event too old" in page.content.decode()
    detail = console.get(reverse("decisioning:decision_detail", args=[decision.pk])).content
    assert "Trigger" in detail.decode() and "at most 24" in detail.decode()
    _, key = api_client_create(actor="system:tests", name="auditor", role="compliance")
    body = Api(key).get(f"/api/v1/decisions/{decision.pk}/").json()
    assert body["outcome"] == "event_too_old"
    assert body["explanation"]["trigger"]["fired"] is False


def test_a_future_dated_event_fires_nothing_and_says_why(bank):
    event = _event(
        _consenting_customer(),
        "tx-future",
        "card_transaction",
        at=NOW + datetime.timedelta(hours=3),
        payload={"merchant_category": "fuel", "amount": 30},
    )
    event_process(event_pk=event.pk, now=NOW)
    decision = Decision.objects.get(event=event)
    assert decision.outcome_reason == "event_in_future"
    assert decision.explanation["trigger"]["clock_skew_minutes"] == 5
    assert not Message.objects.exists()


def test_the_maximum_age_is_set_per_trigger(bank, maker):
    campaign_update(
        actor=maker,
        campaign=bank.fuel_campaign,
        data={"trigger_conditions": {"card_transaction": {"max_age_hours": 72}}},
    )
    event = _event(
        _consenting_customer(), "tx-2d", "card_transaction", at=NOW - datetime.timedelta(days=2)
    )
    event_process(event_pk=event.pk, now=NOW)
    assert Decision.objects.get(event=event).outcome_reason == "released"


def _loan_page_campaign(bank, **fields):
    campaign = CampaignFactory(
        code=fields.pop("code", "LOAN_PAGE"),
        kind=CampaignKind.REALTIME,
        status=CampaignStatus.RUNNING,
        trigger_event_types=["page_view"],
        trigger_conditions={"page_view": {"pages": ["/loans/*"]}},
        channels=["push", "email"],
        control_group_pct=Decimal("0"),
        **fields,
    )
    CampaignOfferFactory(campaign=campaign, offer=bank.personal_loan)
    bump_catalog_version()
    return campaign


def test_a_page_view_of_a_loan_page_fires_the_loan_page_campaign(bank):
    campaign = _loan_page_campaign(bank)
    customer = _consenting_customer(birth_date=datetime.date(1980, 1, 1))
    loans = _event(customer, "pv-loans", "page_view", payload={"page": "/loans/personal?x=1"})
    event_process(event_pk=loans.pk, now=NOW)
    fired = Decision.objects.get(event=loans, campaign=campaign)
    assert fired.outcome_reason == "released", fired.explanation
    assert fired.explanation["trigger"]["page_pattern"] == "/loans/*"
    assert fired.explanation["trigger"]["page"] == "/loans/personal"

    cards = _event(customer, "pv-cards", "page_view", payload={"page": "/cards/gold"})
    event_process(event_pk=cards.pk, now=NOW)
    refused = Decision.objects.get(event=cards, campaign=campaign)
    assert refused.outcome_reason == "trigger_condition_not_met"
    assert refused.explanation["trigger"]["page_pattern"] is None


# --- inbound context.page -------------------------------------------------------------------


def _page_weighted_offer(bank):
    loan = ProductFactory(
        code="HOME_LOAN", family=ProductFamily.MORTGAGES, annual_value=600, is_credit=True
    )
    offer = OfferFactory(code="HOME_LOAN_PAGE", product=loan, trigger_weights={"/loans/*": 2.5})
    add_content(offer, "web")
    CampaignOfferFactory(campaign=bank.inbound_campaign, offer=offer)
    bump_catalog_version()
    return offer


def test_inbound_context_page_raises_the_relevant_offers_context_weight(bank):
    _page_weighted_offer(bank)
    customer = CustomerFactory(birth_date=datetime.date(1980, 1, 1))
    on_loans = decide_inbound(
        actor="api:web", customer=customer, channel="web", page="/loans/home", now=NOW
    )
    offer = next(o for o in on_loans.explanation["offers"] if o["offer_code"] == "HOME_LOAN_PAGE")
    assert offer["score_factors"]["context_weight"] == 2.5
    assert offer["score_factors"]["context"] == "page /loans/* (/loans/home)"
    assert "context weight 2.5 from page /loans/* (/loans/home)" in offer["reasons"]
    others = [o for o in on_loans.explanation["offers"] if o["offer_code"] != "HOME_LOAN_PAGE"]
    assert all(o["score_factors"]["context_weight"] == 1.0 for o in others)

    elsewhere = decide_inbound(
        actor="api:web", customer=CustomerFactory(), channel="web", page="/savings", now=NOW
    )
    plain = next(
        o for o in full_trace(elsewhere)["candidates"] if o["offer_code"] == "HOME_LOAN_PAGE"
    )
    assert plain["score_factors"]["context_weight"] == 1.0
    assert "context" not in plain["score_factors"]


def test_the_decision_api_passes_context_page_to_the_engine(bank):
    _page_weighted_offer(bank)
    CustomerFactory(external_id="C-PAGE", birth_date=datetime.date(1980, 1, 1))
    _, key = api_client_create(actor="system:tests", name="web", role="channel", channels=["web"])
    response = Api(key).post(
        "/api/v1/decisions/",
        {
            "customer": {"external_id": "C-PAGE"},
            "channel": "web",
            "context": {"page": "https://bank.example/loans/home?amount=1"},
        },
    )
    assert response.status_code == 200, response.content
    offer = next(o for o in response.json()["offers"] if o["offer_code"] == "HOME_LOAN_PAGE")
    assert offer["score_factors"]["context_weight"] == 2.5


# --- the journey: loan page visited, no application in 3 days ----------------------------------


@pytest.fixture
def loan_journey(bank):
    return _loan_page_campaign(
        bank, code="LOAN_PAGE_JOURNEY", absence_event_type="loan_application", absence_days=3
    )


def test_a_loan_page_visit_without_an_application_in_three_days_fires_the_follow_up(
    loan_journey,
):
    customer = _consenting_customer(birth_date=datetime.date(1980, 1, 1))
    visit = _event(
        customer,
        "pv-1",
        "page_view",
        at=NOW - datetime.timedelta(days=3, hours=2),
        payload={"page": "/loans/personal"},
    )
    event_process(event_pk=visit.pk, now=visit.occurred_at)
    assert not Decision.objects.filter(campaign=loan_journey).exists()  # it waits
    assert absence_triggers_fire(now=NOW) == 1
    decision = Decision.objects.get(event=visit, campaign=loan_journey)
    assert decision.mode == "absence" and decision.outcome_reason == "released"
    assert decision.explanation["trigger"]["late_hours"] == 2.0
    assert Message.objects.filter(decision=decision).count() == 1
    assert absence_triggers_fire(now=NOW) == 0


def test_an_application_within_three_days_stops_the_loan_page_journey(loan_journey):
    customer = _consenting_customer(birth_date=datetime.date(1980, 1, 1))
    _event(
        customer,
        "pv-2",
        "page_view",
        at=NOW - datetime.timedelta(days=3, hours=2),
        payload={"page": "/loans/personal"},
    )
    _event(customer, "apply-2", "loan_application", at=NOW - datetime.timedelta(days=2))
    assert absence_triggers_fire(now=NOW) == 0
    assert not Decision.objects.filter(campaign=loan_journey).exists()


def test_a_visit_to_another_page_never_starts_the_loan_page_journey(loan_journey):
    customer = _consenting_customer()
    visit = _event(
        customer,
        "pv-3",
        "page_view",
        at=NOW - datetime.timedelta(days=3, hours=2),
        payload={"page": "/savings"},
    )
    event_process(event_pk=visit.pk, now=visit.occurred_at)
    refused = Decision.objects.get(event=visit, campaign=loan_journey)
    assert refused.outcome_reason == "trigger_condition_not_met"
    assert absence_triggers_fire(now=NOW) == 0
    assert not Message.objects.exists()


def test_a_journey_whose_wait_ended_long_ago_does_not_fire_late(loan_journey):
    customer = _consenting_customer()
    _event(
        customer,
        "pv-4",
        "page_view",
        at=NOW - datetime.timedelta(days=6),
        payload={"page": "/loans/personal"},
    )
    assert absence_triggers_fire(now=NOW) == 0
    assert not Message.objects.exists()
