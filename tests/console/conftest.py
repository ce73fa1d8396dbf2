"""Fixtures for the console tests: one persona per role, and a small bank built through
the services (so hashes, approvals and audit rows are the real ones)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.choices import CampaignKind, RunStatus
from campaigns.models import Campaign, CampaignRun
from compliance import services as compliance_services
from compliance.models import ApprovalRequest
from customers.models import Customer
from decisioning.models import Decision
from offers import services as offer_services
from offers.choices import ProductFamily
from offers.models import Offer, OfferContent, Product
from tests.console.builders import make_decision
from tests.factories import ConsentFactory, CustomerFactory, HoldingFactory, persona

ROLES = ("marketer", "compliance", "analyst", "admin")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The dashboard caches its figures for a few seconds; tests start clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def people(db) -> dict[str, object]:
    """maker (marketer), checker (compliance), analyst, admin, and an outsider with no role."""
    return {
        "marketer": persona("maker", "marketer"),
        "compliance": persona("checker", "compliance"),
        "analyst": persona("analyst", "analyst"),
        "admin": persona("admin", "admin"),
        "outsider": persona("outsider"),
    }


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


@dataclass
class Bank:
    product: Product
    credit_product: Product
    offer: Offer
    content: OfferContent
    approval: ApprovalRequest
    campaign: Campaign
    run: CampaignRun
    customer: Customer
    decision: Decision


@pytest.fixture
def bank(people) -> Bank:
    return build_bank(people)


def build_bank(people: dict) -> Bank:
    """A card offer with approved SMS content, a batch campaign with a running run, a
    customer with a holding, an SMS consent and one decision — all through the services."""
    maker, checker = people["marketer"], people["compliance"]
    product = offer_services.product_create(
        actor=maker, code="CARD", name="Fuel card", family=ProductFamily.CARDS, annual_value="100"
    )
    credit = offer_services.product_create(
        actor=maker,
        code="LOAN",
        name="Personal loan",
        family=ProductFamily.LOANS,
        annual_value="900",
        is_credit=True,
    )
    offer = offer_services.offer_create(
        actor=maker, product=product, code="CARD_FUEL", name="Fuel card cashback"
    )
    content = offer_services.content_create_version(
        actor=maker,
        offer=offer,
        channel="sms",
        headline="2% back on fuel",
        body="Get 2% cashback on fuel with our card. Reply STOP to opt out.",
        call_to_action="Apply",
    )
    approval = offer_services.content_submit_for_approval(actor=maker, content=content)
    compliance_services.approval_approve(actor_user=checker, request=approval, comment="fine")
    offer_services.offer_activate(actor=maker, offer=offer)
    campaign = campaign_services.campaign_create(
        actor=maker,
        code="FUEL_PUSH",
        name="Fuel push",
        kind=CampaignKind.BATCH,
        channels=["sms"],
        offers=[{"offer": offer, "arm": "A", "weight": 1}],
        audience_rule="age >= 18",
    )
    run = CampaignRun.objects.create(
        campaign=campaign,
        status=RunStatus.RUNNING,
        requested_by="user:maker",
        total_customers=1000,
        processed_customers=400,
        outcome_counts={"released": 300, "holds_product": 100},
        suppression_counts={"holds_product": 100},
        started_at=timezone.now(),
    )
    customer = CustomerFactory(external_id="CUST-0001")
    HoldingFactory(customer=customer, product_code="CURRENT_ACCOUNT")
    ConsentFactory(customer=customer, channel="sms")
    decision = make_decision(customer, campaign)
    approval.refresh_from_db()
    return Bank(
        product=product,
        credit_product=credit,
        offer=offer,
        content=content,
        approval=approval,
        campaign=campaign,
        run=run,
        customer=customer,
        decision=decision,
    )
