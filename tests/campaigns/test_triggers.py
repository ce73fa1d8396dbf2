"""Campaign trigger conditions: validated when saved, stored in one shape, shown by the
console and the API (``campaigns/triggers.py``)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from campaigns.api.serializers import CampaignSerializer
from campaigns.forms import CampaignForm
from campaigns.models import Campaign
from campaigns.services import campaign_create, campaign_update
from campaigns.triggers import register_condition_parser
from core.exceptions import ValidationFailed
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from offers.services import offer_create, product_create

pytestmark = pytest.mark.django_db

FUEL_ONLY = 'merchant_category in ("fuel") and amount > 0'


@pytest.fixture
def offer(maker):
    card = product_create(actor=maker, code="CARD", name="Card", family="cards", annual_value=100)
    return offer_create(actor=maker, product=card, code="CARD_OFFER", name="Card offer")


def create(maker, offer, **overrides) -> Campaign:
    fields = dict(
        code="FUEL",
        name="Fuel",
        kind="realtime",
        channels=["sms", "email"],
        trigger_event_types=["card_transaction", "page_view"],
        offers=[{"offer": offer}],
    )
    fields.update(overrides)
    return campaign_create(actor=maker, **fields)


def refusal(maker, offer, conditions) -> list[str]:
    with pytest.raises(ValidationFailed) as error:
        create(maker, offer, trigger_conditions=conditions)
    assert error.value.message == "The campaign is not valid."
    return error.value.fields["trigger_conditions"]


def test_a_trigger_condition_page_patterns_and_age_are_stored_without_the_defaults(maker, offer):
    campaign = create(
        maker,
        offer,
        trigger_conditions={
            "card_transaction": {"condition": f"  {FUEL_ONLY} ", "max_age_hours": 24},
            "page_view": {"pages": ["/loans/*", "/loans/*"], "max_age_hours": 6, "condition": ""},
        },
    )
    campaign.refresh_from_db()
    assert campaign.trigger_conditions == {
        "card_transaction": {"condition": FUEL_ONLY},
        "page_view": {"pages": ["/loans/*"], "max_age_hours": 6},
    }


def test_unknown_payload_field_names_are_allowed(maker, offer):
    campaign = create(
        maker,
        offer,
        trigger_conditions={
            "card_transaction": {"condition": "mcc_code == 5541 and is_contactless"}
        },
    )
    assert campaign.trigger_conditions["card_transaction"]["condition"].startswith("mcc_code")


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        (
            {"card_transaction": {"condition": "amount >="}},
            "card_transaction: condition: expected a value after '>=' at position 9, found end "
            "of input",
        ),
        (
            {"card_transaction": {"condition": 'merchant_category > "fuel"'}},
            "card_transaction: condition: expected '==' or '!=' to compare string values at "
            "position 18, found '>' (ordering needs numbers)",
        ),
        (
            {"card_transaction": {"condition": 'holds("FUEL_CARD")'}},
            "card_transaction: condition: expected a payload field at position 0, found "
            "holds(), which reads the customer, not the event (put it in the audience rule)",
        ),
        (
            {"card_transactoin": {"condition": FUEL_ONLY}},
            "card_transactoin: not one of the campaign's trigger event types (card_transaction, "
            "page_view)",
        ),
        (
            {"page_view": {"pages": ["loans/*"]}},
            "page_view: page pattern 'loans/*' must start with '/' (e.g. /loans/*)",
        ),
        (
            {"page_view": {"max_age_hours": 0}},
            "page_view: max_age_hours must be a whole number of hours from 1 to 8784",
        ),
        (
            {"page_view": {"max_age_hours": True}},
            "page_view: max_age_hours must be a whole number of hours from 1 to 8784",
        ),
        (
            {"page_view": {"url": "/loans"}},
            "page_view: unknown setting(s) url (allowed: condition, pages, max_age_hours)",
        ),
        (
            ["card_transaction"],
            "must be an object: trigger event type -> condition, pages, max_age_hours",
        ),
    ],
)
def test_an_invalid_trigger_condition_is_refused_at_save_with_a_clear_message(
    maker, offer, conditions, message
):
    assert refusal(maker, offer, conditions) == [message]
    assert not Campaign.objects.exists()


def test_a_condition_is_checked_lexically_when_no_engine_parser_is_plugged_in(maker, offer):
    previous = register_condition_parser(None)
    try:
        problems = refusal(maker, offer, {"card_transaction": {"condition": 'amount > "x'}})
        # payload keys stay free names
        create(maker, offer, trigger_conditions={"card_transaction": {"condition": "mcc == 5541"}})
    finally:
        register_condition_parser(previous)
    assert problems == [
        'card_transaction: condition: expected closing " for the string opened at position 9, '
        "found end of input"
    ]


def test_changing_a_running_campaigns_condition_is_audited_and_needs_no_new_targeting(maker, offer):
    campaign = create(maker, offer)
    version = campaign.targeting_version
    campaign = campaign_update(
        actor=maker,
        campaign=campaign,
        data={"trigger_conditions": {"card_transaction": {"condition": FUEL_ONLY}}},
    )
    assert campaign.targeting_version == version
    record = AuditRecord.objects.filter(kind=AuditKind.CAMPAIGN, action="campaign_updated").latest(
        "seq"
    )
    assert record.data["changes"]["trigger_conditions"] == [
        {},
        {"card_transaction": {"condition": FUEL_ONLY}},
    ]
    # the same conditions again, written with the defaults: no change, no audit row
    again = campaign_update(
        actor=maker,
        campaign=campaign,
        data={
            "trigger_conditions": {
                "card_transaction": {"condition": FUEL_ONLY, "max_age_hours": 24, "pages": []}
            }
        },
    )
    assert again.trigger_conditions == {"card_transaction": {"condition": FUEL_ONLY}}
    assert (
        AuditRecord.objects.filter(kind=AuditKind.CAMPAIGN, action="campaign_updated").count() == 1
    )


def test_dropping_a_trigger_event_type_with_a_condition_names_the_condition(maker, offer):
    campaign = create(maker, offer, trigger_conditions={"page_view": {"pages": ["/loans/*"]}})
    with pytest.raises(ValidationFailed) as error:
        campaign_update(
            actor=maker, campaign=campaign, data={"trigger_event_types": ["card_transaction"]}
        )
    assert error.value.fields["trigger_conditions"] == [
        "page_view: not one of the campaign's trigger event types (card_transaction)"
    ]


def test_the_builder_reads_conditions_pages_and_ages_one_line_per_event_type():
    form = CampaignForm(
        {
            "code": "FUEL",
            "name": "Fuel",
            "kind": "realtime",
            "channels": "sms",
            "control_group_pct": "10",
            "priority": "0",
            "trigger_event_types": "card_transaction, page_view",
            "trigger_conditions": f"card_transaction: {FUEL_ONLY}\n# a comment\n",
            "trigger_pages": "page_view: /loans/*, /mortgages/*",
            "trigger_max_age_hours": "page_view: 6h",
        }
    )
    assert form.is_valid(), form.errors
    assert form.create_kwargs()["trigger_conditions"] == {
        "card_transaction": {"condition": FUEL_ONLY},
        "page_view": {"pages": ["/loans/*", "/mortgages/*"], "max_age_hours": 6},
    }


def test_the_builder_refuses_a_line_it_cannot_read():
    form = CampaignForm(
        {
            "code": "FUEL",
            "name": "Fuel",
            "kind": "realtime",
            "channels": "sms",
            "control_group_pct": "10",
            "priority": "0",
            "trigger_event_types": "card_transaction",
            "trigger_conditions": "merchant_category == 'fuel'",
            "trigger_max_age_hours": "card_transaction: a day",
        }
    )
    assert not form.is_valid()
    assert form.errors["trigger_conditions"] == ["Line 1: write 'event_type: condition'."]
    assert form.errors["trigger_max_age_hours"] == [
        "Line 1: 'a day' is not a whole number of hours."
    ]


def test_the_builder_shows_an_invalid_condition_on_its_field(client, maker, offer):
    client.force_login(maker)
    response = client.post(
        reverse("campaigns:campaign_create"),
        {
            "code": "FUEL",
            "name": "Fuel",
            "kind": "realtime",
            "channels": "sms",
            "control_group_pct": "10",
            "priority": "0",
            "trigger_event_types": "card_transaction",
            "trigger_conditions": "card_transaction: amount >=",
            "offers-TOTAL_FORMS": "1",
            "offers-INITIAL_FORMS": "0",
            "offers-MIN_NUM_FORMS": "0",
            "offers-MAX_NUM_FORMS": "1000",
            "offers-0-offer": str(offer.pk),
            "offers-0-arm": "A",
            "offers-0-weight": "1",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["trigger_conditions"] == [
        "card_transaction: condition: expected a value after '>=' at position 9, found end of input"
    ]
    assert not Campaign.objects.exists()


def test_the_builder_shows_a_campaigns_conditions_back_for_editing(maker, offer):
    campaign = create(
        maker,
        offer,
        trigger_conditions={
            "card_transaction": {"condition": FUEL_ONLY},
            "page_view": {"pages": ["/loans/*"], "max_age_hours": 6},
        },
    )
    form = CampaignForm(instance=campaign)
    assert form.initial["trigger_conditions"] == f"card_transaction: {FUEL_ONLY}"
    assert form.initial["trigger_pages"] == "page_view: /loans/*"
    assert form.initial["trigger_max_age_hours"] == "page_view: 6"


def test_the_campaign_api_shows_each_trigger_with_its_defaults_filled_in(maker, offer):
    campaign = create(maker, offer, trigger_conditions={"page_view": {"pages": ["/loans/*"]}})
    body = CampaignSerializer(campaign).data
    assert body["trigger_conditions"] == {
        "page_view": {"condition": "", "pages": ["/loans/*"], "max_age_hours": 24}
    }


def test_the_migration_keeps_existing_journeys_firing_a_week_late_and_others_as_they_were(
    maker, offer
):
    journey = create(
        maker,
        offer,
        code="JOURNEY",
        trigger_event_types=["card_issued"],
        absence_event_type="card_activated",
        absence_days=7,
    )
    plain = create(maker, offer, code="PLAIN")
    migration = importlib.import_module("campaigns.migrations.0004_campaign_trigger_conditions")
    migration.keep_journey_windows(django_apps, None)
    journey.refresh_from_db()
    plain.refresh_from_db()
    assert journey.trigger_conditions == {"card_issued": {"max_age_hours": 168}}
    assert plain.trigger_conditions == {}


def test_the_demo_banks_trigger_conditions_are_valid_and_the_fuel_campaign_needs_fuel():
    from campaigns.triggers import normalised_trigger_conditions
    from demo.campaigns import CAMPAIGNS

    for spec in CAMPAIGNS:
        stored, problems = normalised_trigger_conditions(
            spec.trigger_conditions, list(spec.trigger_event_types)
        )
        assert problems == [], spec.code
        assert stored == spec.trigger_conditions, spec.code
    fuel = next(spec for spec in CAMPAIGNS if spec.code == "RT_FUEL_CARD")
    assert "merchant_category" in fuel.trigger_conditions["card_transaction"]["condition"]
