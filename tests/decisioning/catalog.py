"""A small bank for decisioning tests: products, offers with approved content, campaigns."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from campaigns.choices import CampaignKind, CampaignStatus
from campaigns.models import Campaign
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.versioning import bump_catalog_version
from core.choices import Channel
from offers.choices import OfferKind, ProductFamily
from offers.content_hash import content_hash
from offers.models import Offer, OfferContent, OfferTargeting
from offers.targeting_hash import targeting_hash_of, targeting_values
from tests.factories import (
    CampaignFactory,
    CampaignOfferFactory,
    OfferFactory,
    ProductFactory,
    persona,
)


def add_content(
    offer: Offer, channel: str, *, version: int = 1, approve: bool = True
) -> OfferContent:
    words = {
        "headline": f"{offer.name} (v{version})",
        "body": f"{offer.name} on {channel}. Reply STOP to opt out.",
        "call_to_action": "Find out more",
        "disclosure": "Representative 19.9% APR (variable)." if offer.product.is_credit else "",
    }
    content = OfferContent.objects.create(
        offer=offer,
        channel=channel,
        version=version,
        content_hash=content_hash(offer_code=offer.code, channel=channel, version=version, **words),
        **words,
    )
    if approve:
        maker = persona("maker", "marketer")
        checker = persona("checker", "compliance")
        ApprovalRequest.objects.create(
            subject_type=ApprovalSubject.OFFER_CONTENT,
            subject_id=content.pk,
            subject_version=content.version,
            content_hash=content.content_hash,
            subject_repr=str(content),
            status=ApprovalStatus.APPROVED,
            submitted_by=maker,
            decided_by=checker,
        )
    bump_catalog_version()
    return content


@dataclass
class SmallBank:
    payment_help: Offer
    fuel_card: Offer
    savings: Offer
    personal_loan: Offer
    hardship_campaign: Campaign
    fuel_campaign: Campaign
    inbound_campaign: Campaign


def approve_targeting(offer: Offer, *, version: int = 1) -> OfferTargeting:
    """Record the targeting on the offer's row as its approved version ``version`` (as the
    demo seeder does): the engine then decides under an approved targeting version."""
    Offer.objects.filter(pk=offer.pk).update(targeting_version=version)
    offer.refresh_from_db()
    targeting = OfferTargeting.objects.create(
        offer=offer,
        version=version,
        content_hash=targeting_hash_of(offer, offer_code=offer.code, version=version),
        **targeting_values(offer),
    )
    ApprovalRequest.objects.create(
        subject_type=ApprovalSubject.OFFER_TARGETING,
        subject_id=offer.pk,
        subject_version=version,
        content_hash=targeting.content_hash,
        subject_repr=f"{offer.code} targeting",
        status=ApprovalStatus.APPROVED,
        submitted_by=persona("maker", "marketer"),
        decided_by=persona("checker", "compliance"),
    )
    bump_catalog_version()
    return targeting


def small_bank(*, control_group_pct: Decimal = Decimal("0")) -> SmallBank:
    current = ProductFactory(code="CURRENT_ACCOUNT", family=ProductFamily.DEPOSITS, annual_value=60)
    fuel = ProductFactory(
        code="FUEL_CARD", family=ProductFamily.CARDS, annual_value=180, is_credit=True
    )
    savings = ProductFactory(code="SAVINGS_PLUS", family=ProductFamily.DEPOSITS, annual_value=150)
    loan = ProductFactory(
        code="PERSONAL_LOAN", family=ProductFamily.LOANS, annual_value=600, is_credit=True
    )
    payment_help = OfferFactory(
        code="PAYMENT_HELP",
        product=current,
        kind=OfferKind.SERVICE,
        trigger_weights={"payment_failed": 5.0},
    )
    fuel_card = OfferFactory(
        code="FUEL_CARD_CASHBACK",
        product=fuel,
        eligibility_rule="age >= 18",
        trigger_weights={"card_transaction": 3.0},
    )
    savings_offer = OfferFactory(code="SAVINGS_RETAIN", product=savings)
    loan_offer = OfferFactory(code="LOAN_SPRING", product=loan, eligibility_rule="age >= 21")
    for offer in (payment_help, fuel_card, savings_offer, loan_offer):
        for channel in Channel.values:
            add_content(offer, channel)
    hardship = CampaignFactory(
        code="PAYMENT_FAILED_HELP",
        kind=CampaignKind.REALTIME,
        status=CampaignStatus.RUNNING,
        trigger_event_types=["payment_failed"],
        channels=["push", "sms", "email"],
        control_group_pct=control_group_pct,
        priority=10,
    )
    CampaignOfferFactory(campaign=hardship, offer=payment_help)
    fuel_campaign = CampaignFactory(
        code="FUEL_TRIGGER",
        kind=CampaignKind.REALTIME,
        status=CampaignStatus.RUNNING,
        trigger_event_types=["card_transaction"],
        channels=["push", "sms", "email"],
        control_group_pct=control_group_pct,
    )
    CampaignOfferFactory(campaign=fuel_campaign, offer=fuel_card)
    inbound = CampaignFactory(
        code="NBO_INBOUND",
        kind=CampaignKind.INBOUND,
        status=CampaignStatus.RUNNING,
        channels=["branch", "contact_center", "mobile_app", "web"],
        control_group_pct=control_group_pct,
    )
    for offer in (fuel_card, savings_offer, loan_offer):
        CampaignOfferFactory(campaign=inbound, offer=offer)
    bump_catalog_version()
    return SmallBank(
        payment_help, fuel_card, savings_offer, loan_offer, hardship, fuel_campaign, inbound
    )


def weekly_batch(
    bank: SmallBank, *, control_group_pct: Decimal = Decimal("0"), **fields
) -> Campaign:
    campaign = CampaignFactory(
        code=fields.pop("code", "WEEKLY_SAVINGS"),
        kind=CampaignKind.BATCH,
        status=fields.pop("status", CampaignStatus.RUNNING),
        channels=["email", "sms", "push"],
        control_group_pct=control_group_pct,
        schedule=fields.pop("schedule", "0 9 * * mon"),
        **fields,
    )
    CampaignOfferFactory(campaign=campaign, offer=bank.savings)
    CampaignOfferFactory(campaign=campaign, offer=bank.personal_loan)
    bump_catalog_version()
    return campaign


def activation_journey(bank: SmallBank, *, days: int = 7) -> Campaign:
    """Card issued, not activated within ``days`` -> an activation nudge."""
    campaign = CampaignFactory(
        code="CARD_ACTIVATION_NUDGE",
        kind=CampaignKind.REALTIME,
        status=CampaignStatus.RUNNING,
        trigger_event_types=["card_issued"],
        absence_event_type="card_activated",
        absence_days=days,
        channels=["push", "sms", "email"],
        control_group_pct=Decimal("0"),
    )
    CampaignOfferFactory(campaign=campaign, offer=bank.savings)
    bump_catalog_version()
    return campaign


def fuel_purchase(customer, *, event_id: str, at):
    """A stored, accepted fuel card transaction of ``customer`` (no processing queued)."""
    from customers.models import Event

    return Event.objects.create(
        event_id=event_id,
        type="card_transaction",
        occurred_at=at,
        customer=customer,
        customer_ref={"external_id": customer.external_id},
        payload={"merchant_category": "fuel", "amount": 40},
        status="accepted",
        body_hash="x",
    )
