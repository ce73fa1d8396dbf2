import datetime

import pytest
from django.db import IntegrityError, transaction

from compliance.models import ApprovalRequest
from customers.models import Event, Holding
from tests.factories import (
    CampaignFactory,
    CustomerFactory,
    HoldingFactory,
    IdentityLinkFactory,
    OfferContentFactory,
    OfferFactory,
    persona,
)

pytestmark = pytest.mark.django_db


def _refused(build) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        build()


def test_event_id_is_unique():
    customer = CustomerFactory()
    fields = dict(
        type="app_login",
        occurred_at=datetime.datetime.now(datetime.UTC),
        customer=customer,
        status="processed",
        body_hash="x",
    )
    Event.objects.create(event_id="E1", **fields)
    _refused(lambda: Event.objects.create(event_id="E1", **fields))


def test_identifier_type_and_value_name_one_customer():
    link = IdentityLinkFactory(type="card_token", value="tok-1")
    _refused(lambda: IdentityLinkFactory(type="card_token", value="tok-1"))
    # The same value under another type is a different identifier.
    IdentityLinkFactory(type="device_id", value="tok-1", customer=link.customer)


def test_deterministic_identity_link_must_be_certain():
    _refused(lambda: IdentityLinkFactory(method="deterministic", confidence=0.5))
    IdentityLinkFactory(method="probabilistic", confidence=0.5)


def test_one_content_version_per_offer_channel_and_version():
    content = OfferContentFactory(channel="sms", version=1)
    _refused(lambda: OfferContentFactory(offer=content.offer, channel="sms", version=1))
    OfferContentFactory(offer=content.offer, channel="sms", version=2)
    OfferContentFactory(offer=content.offer, channel="email", version=1)


def test_customer_holds_a_product_open_only_once():
    holding = HoldingFactory(product_code="GOLD_CARD")
    _refused(lambda: HoldingFactory(customer=holding.customer, product_code="GOLD_CARD"))
    Holding.objects.filter(pk=holding.pk).update(closed_at=datetime.date(2020, 1, 1))
    HoldingFactory(customer=holding.customer, product_code="GOLD_CARD")


def test_offer_validity_window_must_end_after_it_starts():
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    _refused(lambda: OfferFactory(valid_from=start, valid_until=start))


def test_campaign_control_group_is_a_percentage():
    _refused(lambda: CampaignFactory(control_group_pct=101))


def test_approval_checker_can_never_be_the_maker_even_in_the_database():
    maker = persona("maker", "marketer")
    request = ApprovalRequest.objects.create(
        subject_type="offer_content",
        subject_id=1,
        subject_version=1,
        content_hash="h",
        subject_repr="x",
        submitted_by=maker,
    )
    request.decided_by = maker
    request.status = "approved"
    _refused(lambda: request.save())
