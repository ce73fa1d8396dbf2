"""The demo catalog and campaigns meet the spec: products, content, approvals, campaigns."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

import pytest

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign
from campaigns.selectors import targeting_is_approved
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.prechecks import content_prechecks, sms_length, sms_text
from core.choices import Channel
from decisioning.engine.features import parse_feature
from decisioning.engine.rules import parse_rule, protected_fields_used
from demo.catalog import OFFERS, all_contents
from demo.ground_truth import GROUND_TRUTH
from demo.seed import SEED_ACTOR
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from offers.choices import OfferKind, ProductFamily
from offers.content_hash import content_hash_of
from offers.models import Offer, OfferContent, Product
from offers.selectors import approved_content
from offers.services import content_prechecks_for

pytestmark = pytest.mark.django_db

BANNED_PHRASES = ("guaranteed approval", "risk-free", "risk free", "no credit check", "guaranteed")
PLACEHOLDER = re.compile(
    r"\{\{|\}\}|\{[A-Za-z_]+\}|\[[A-Z_ ]+\]|<[a-z_]+>|%\(|%s|\bXXX\b|lorem", re.I
)


def test_at_least_twenty_products_cover_all_six_families(seeded_bank):
    products = Product.objects.all()
    assert products.count() >= 20
    assert set(products.values_list("family", flat=True)) == set(ProductFamily.values)
    families = Counter(products.values_list("family", flat=True))
    assert min(families.values()) >= 3
    assert products.filter(is_credit=True).count() >= 8
    assert all(p.annual_value >= 0 and p.name for p in products)


def test_offers_of_both_kinds_with_rules_levers_cooldowns_and_trigger_weights(seeded_bank):
    offers = Offer.objects.select_related("product")
    assert {o.kind for o in offers} == {OfferKind.SALES, OfferKind.SERVICE}
    assert all(o.status == "active" for o in offers)
    assert Offer.objects.get(code="FUEL_CARD_CASHBACK_A").trigger_weights == {
        "card_transaction": 3.0
    }
    assert Offer.objects.get(code="PAYMENT_HELP").trigger_weights["payment_failed"] > 1
    for offer in offers:
        rule = parse_rule(offer.eligibility_rule)
        assert offer.lever > 0
        if offer.product.is_credit:
            assert not protected_fields_used(rule), offer.code


def test_every_offer_has_approved_version_one_content_on_every_channel(seeded_bank):
    contents = OfferContent.objects.select_related("offer")
    approvals = {
        a.subject_id: a
        for a in ApprovalRequest.objects.filter(subject_type=ApprovalSubject.OFFER_CONTENT)
    }
    by_offer: dict[str, set[str]] = {}
    for content in contents:
        by_offer.setdefault(content.offer.code, set()).add(content.channel)
        assert content.version == 1
        assert content.content_hash == content_hash_of(content)
        approval = approvals[content.pk]
        assert approval.status == ApprovalStatus.APPROVED
        assert approval.subject_version == content.version
        assert approval.content_hash == content.content_hash
        assert approval.submitted_by.groups.filter(name="marketer").exists()
        assert approval.decided_by.groups.filter(name="compliance").exists()
        assert approval.decided_by_id != approval.submitted_by_id
    assert set(by_offer) == set(Offer.objects.values_list("code", flat=True))
    assert all(channels == set(Channel.values) for channels in by_offer.values())
    # What the engine will release: every offer on every channel.
    assert len(approved_content()) == Offer.objects.count() * len(Channel.values)


def test_all_content_passes_the_compliance_prechecks(seeded_bank):
    for content in OfferContent.objects.select_related("offer__product"):
        assert content_prechecks_for(content) == [], str(content)


def test_sms_content_is_one_gsm7_message_with_the_opt_out():
    for code, contents in all_contents().items():
        sms = contents[Channel.SMS]
        sent = sms_text(body=sms.body, call_to_action=sms.call_to_action, disclosure=sms.disclosure)
        encoding, length, limit = sms_length(sent)
        assert encoding == "gsm7", f"{code}: SMS needs characters outside GSM-7: {sent!r}"
        assert length <= limit == 160, f"{code}: SMS is {length} septets"
        assert "Reply STOP" in sms.body


def test_credit_products_disclose_a_representative_apr_on_every_channel(seeded_bank):
    for content in OfferContent.objects.select_related("offer__product"):
        if content.offer.product.is_credit and content.offer.kind == OfferKind.SALES:
            apr = "Rep. APR" if content.channel == Channel.SMS else "Representative APR"
            assert apr in content.disclosure and "%" in content.disclosure, str(content)


def test_content_has_no_banned_phrases_or_unfilled_placeholders():
    for code, contents in all_contents().items():
        for channel, content in contents.items():
            text = " ".join(
                (content.headline, content.body, content.call_to_action, content.disclosure)
            )
            lowered = text.lower()
            for phrase in BANNED_PHRASES:
                assert phrase not in lowered, f"{code}/{channel}: {phrase!r}"
            assert not PLACEHOLDER.search(text), f"{code}/{channel}: placeholder in {text!r}"
            assert content.headline and content.body
            findings = content_prechecks(
                channel=channel,
                is_credit=False,
                headline=content.headline,
                body=content.body,
                call_to_action=content.call_to_action,
                disclosure=content.disclosure,
            )
            assert findings == [], f"{code}/{channel}: {findings}"


def test_a_running_realtime_campaign_for_each_trigger(seeded_bank):
    expected = {
        "payment_failed": ("PAYMENT_HELP", OfferKind.SERVICE),
        "card_transaction": ("FUEL_CARD_CASHBACK_A", OfferKind.SALES),
        "large_transfer_out": ("SAVINGS_RETENTION", OfferKind.SALES),
        "loan_calculator_used": ("PERSONAL_LOAN_RATE", OfferKind.SALES),
    }
    realtime = Campaign.objects.filter(
        kind=CampaignKind.REALTIME, status=CampaignStatus.RUNNING, absence_event_type=""
    ).prefetch_related("offers")
    for trigger, (offer_code, kind) in expected.items():
        campaign = next(c for c in realtime if trigger in c.trigger_event_types)
        offers = {o.code: o for o in campaign.offers.all()}
        assert offer_code in offers
        assert offers[offer_code].kind == kind
        assert campaign.control_group_pct == (
            Decimal("5") if kind == OfferKind.SERVICE else Decimal("10")
        )


def test_journeys_fire_on_an_absent_follow_up_event(seeded_bank):
    journeys = {
        (c.trigger_event_types[0], c.absence_event_type): c.absence_days
        for c in Campaign.objects.exclude(absence_event_type="")
    }
    assert journeys == {
        ("card_issued", "card_activated"): 7,
        ("account_opened", "card_transaction"): 14,
        ("page_view", "loan_application"): 3,
    }


def test_weekly_batch_and_inbound_next_best_offer_campaigns(seeded_bank):
    batch = Campaign.objects.get(kind=CampaignKind.BATCH)
    assert batch.schedule == "0 9 * * mon"
    assert batch.status == CampaignStatus.RUNNING
    inbound = Campaign.objects.get(kind=CampaignKind.INBOUND)
    assert inbound.channels[:2] == [Channel.BRANCH, Channel.CONTACT_CENTER]
    assert {Channel.MOBILE_APP, Channel.WEB} <= set(inbound.channels)
    assert inbound.offers.count() >= 10


def test_every_campaign_has_its_targeting_approved_under_its_hash(seeded_bank):
    for campaign in Campaign.objects.all():
        assert targeting_is_approved(campaign), campaign.code
        approval = ApprovalRequest.objects.get(
            subject_type=ApprovalSubject.CAMPAIGN_TARGETING, subject_id=campaign.pk
        )
        assert approval.decided_by.groups.filter(name="compliance").exists()
        assert approval.prechecks == []
        parse_rule(campaign.audience_rule)


def test_one_ab_test_splits_two_offers_of_the_same_product_fifty_fifty(seeded_bank):
    campaign = Campaign.objects.get(code="RT_FUEL_CARD")
    arms = list(campaign.campaign_offers.select_related("offer"))
    assert sorted(co.arm for co in arms) == ["A", "B"]
    assert {co.weight for co in arms} == {Decimal("50")}
    assert len({co.offer.product_id for co in arms}) == 1


def test_seeding_audits_the_catalog_and_campaigns_it_creates(seeded_bank):
    seeded = AuditRecord.objects.filter(actor=SEED_ACTOR)
    assert seeded.filter(kind=AuditKind.CATALOG, action="product_created").count() == (
        Product.objects.count()
    )
    assert seeded.filter(kind=AuditKind.CATALOG, action="offer_created").count() == len(OFFERS)
    assert seeded.filter(kind=AuditKind.CAMPAIGN, action="campaign_created").count() == (
        Campaign.objects.count()
    )
    approvals = AuditRecord.objects.filter(kind=AuditKind.APPROVAL, action="approved")
    assert approvals.count() == ApprovalRequest.objects.count()
    customers = seeded.get(action="customers_imported")
    assert customers.data["rows"] == 3_000
    assert "C0000001" not in str(customers.data)


def test_ground_truth_names_only_engine_features_and_no_protected_attribute():
    for truth in GROUND_TRUTH.values():
        for name in truth.feature_names:
            parse_feature(name)
            assert "gender" not in name and "marital" not in name
