"""The campaign builder's live count, channel and trigger pickers and schedule preview;
Customer 360's dry run ("what would we offer now?") and replay."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import Campaign
from customers.models import Customer
from decisioning.decisions.dry_run import audience_count, forget_frame
from decisioning.models import Contact, Decision, Message
from ledger.models import AuditRecord
from tests.console.test_campaigns import builder_data
from tests.factories import CustomerFactory, HoldingFactory


@pytest.fixture(autouse=True)
def _fresh_frame():
    forget_frame()
    yield
    forget_frame()


def test_the_audience_count_follows_the_rule_with_the_engines_evaluation(client, people, bank):
    for age in (20, 30, 40):
        customer = CustomerFactory(birth_date=f"{2026 - age}-01-01")
        if age == 40:
            HoldingFactory(customer=customer, product_code="CARD")
    everyone = audience_count(rule_text="")
    assert everyone.matched == everyone.total == Customer.objects.count()
    assert audience_count(rule_text='holds("CARD")').matched == 1
    today = timezone.now().date()
    expected = sum(
        1
        for c in Customer.objects.all()
        if c.birth_date
        and today.year
        - c.birth_date.year
        - ((today.month, today.day) < (c.birth_date.month, c.birth_date.day))
        >= 25
        and not c.holdings.filter(product_code="CARD", closed_at__isnull=True).exists()
    )
    assert audience_count(rule_text='age >= 25 and not holds("CARD")').matched == expected

    client.force_login(people["marketer"])
    url = reverse("decisioning:audience_count")
    body = client.get(url, {"audience_rule": "age >=", "x": 1}, HTTP_HX_REQUEST="true").content
    assert b"does not parse" in body
    body = client.get(url, {"audience_rule": 'holds("CARD")'}, HTTP_HX_REQUEST="true").content
    assert b'data-testid="audience-count">1<' in body


def test_the_builder_offers_channels_and_triggers_as_checkboxes(client, people, bank):
    client.force_login(people["marketer"])
    page = client.get(reverse("campaigns:campaign_create")).content.decode()
    assert 'type="checkbox" name="channels" value="sms"' in page
    assert 'type="checkbox" name="trigger_event_types" value="payment_failed"' in page
    assert reverse("decisioning:audience_count") in page
    data = builder_data(bank)
    data["channels"] = ["sms", "push"]
    data["trigger_event_types"] = ["card_transaction"]
    data["trigger_other"] = "card_issued"
    assert client.post(reverse("campaigns:campaign_create"), data).status_code == 302
    campaign = Campaign.objects.get(code="CARD_NUDGE")
    assert campaign.trigger_event_types == ["card_transaction", "card_issued"]
    assert campaign.channels == ["push", "sms"]  # a new campaign follows the registry's order


def test_editing_keeps_the_campaigns_own_channel_order(client, people, bank):
    client.force_login(people["marketer"])
    campaign = campaign_services.campaign_create(
        actor=people["marketer"],
        code="CARD_NUDGE",
        name="Card nudge",
        kind="realtime",
        trigger_event_types=["card_transaction"],
        channels=["sms", "push"],
        offers=[{"offer": bank.offer, "arm": "A"}],
    )
    edit = builder_data(bank)
    edit["channels"] = ["push", "sms", "email"]
    client.post(reverse("campaigns:campaign_edit", args=[campaign.pk]), edit)
    campaign.refresh_from_db()
    assert campaign.channels == ["sms", "push", "email"]


def test_the_schedule_reads_in_words_or_says_why_it_never_runs(client, people):
    client.force_login(people["marketer"])
    url = reverse("campaigns:schedule_check")
    good = client.get(url, {"schedule": "0 6 * * mon", "kind": "batch"}, HTTP_HX_REQUEST="true")
    assert "At 06:00, only on Monday" in good.content.decode()
    bad = client.get(url, {"schedule": "99 99 * * *", "kind": "batch"}, HTTP_HX_REQUEST="true")
    assert "never runs" in bad.content.decode() and "not a valid crontab" in bad.content.decode()
    realtime = client.get(url, {"schedule": "0 6 * * *", "kind": "realtime"})
    assert "only batch campaigns run on a schedule" in realtime.content.decode()


def _counts():
    return (
        Decision.objects.count(),
        Contact.objects.count(),
        Message.objects.count(),
        AuditRecord.objects.count(),
    )


def test_what_would_we_offer_now_releases_and_stores_nothing(client, people, bank):
    client.force_login(people["marketer"])
    before = _counts()
    url = reverse("decisioning:customer_offer_now", args=[bank.customer.external_id])
    body = client.get(url, {"channel": "web"}, HTTP_HX_REQUEST="true").content.decode()
    assert "A dry run on <strong>web</strong>" in body and "<html" not in body
    assert 'class="explanation"' in body
    assert _counts() == before
    page = client.get(
        reverse("decisioning:customer_360", args=[bank.customer.external_id]),
        {"now_channel": "branch"},
    ).content.decode()
    assert "A dry run on <strong>branch</strong>" in page  # works without JavaScript
    refused = client.get(url, {"channel": "sms"}, HTTP_HX_REQUEST="true").content.decode()
    assert "inbound channel" in refused
    assert _counts() == before


def test_a_past_decision_replays_under_todays_rules(client, people, bank):
    client.force_login(people["marketer"])
    before = _counts()
    url = reverse("decisioning:customer_replay", args=[bank.customer.external_id, bank.decision.pk])
    body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "decided again under today" in body and "Today's result" in body
    assert _counts() == before
    other = CustomerFactory()
    assert (
        client.get(
            reverse("decisioning:customer_replay", args=[other.external_id, bank.decision.pk]),
            HTTP_HX_REQUEST="true",
        ).status_code
        == 404
    )
