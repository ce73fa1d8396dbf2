"""A small exact bank for the results tests: every figure below is counted by hand.

Day ``DAY`` (2025-03-10, Lisbon = UTC in March before summer time), campaign ``FUEL``:

- offer ``CARD`` (sales, product CARD_P worth 100 a year), treated:
  - 10 contacts on sms, customers aged 35 (born 1990), no products held:
    3 accept (and open CARD_P two days later), 1 opens CARD_P without answering
    (organic, day +5), 2 decline, 1 click, 1 impression, 1 opens CARD_P on day +40
    (outside the 30-day window), 1 cancelled at send time for presented_elsewhere;
    one of them revokes SMS consent the next day; two came from events received 40 ms
    and 200 ms before their decisions.
  - 5 contacts on email, customers aged 21 (born 2003) holding a current account:
    1 opens CARD_P on day +1.
- control: 8 held-out decisions that would have offered ``CARD`` on sms: 4 customers
  aged 35 (one opens CARD_P on day +3), 4 aged 21 with a current account (none opens).
- one decision held ``CARD`` back as presented_elsewhere (duplicates: with the cancelled
  message above, 2).
- offer ``HELP`` (service) released once on push in ``FUEL``: accepted, never "converts".

Campaign ``NBO`` (inbound): 4 branch decisions releasing ``SAVE`` (sales, offer value
50): 3 presented (a response came back), 1 overridden; one of the presented accepts and
opens SAVE_P the same day.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal

from campaigns.models import Campaign
from compliance.choices import ConsentStatus
from customers.models import Customer, Event, Holding
from decisioning.choices import DecisionMode, MessageStatus
from decisioning.models import Contact, Decision, Message, Override, Response
from offers.choices import OfferKind
from offers.models import Offer
from tests.factories import (
    CampaignFactory,
    ConsentFactory,
    CustomerFactory,
    OfferContentFactory,
    OfferFactory,
    ProductFactory,
)

DAY = datetime.date(2025, 3, 10)
NOON = datetime.datetime(2025, 3, 10, 12, 0, tzinfo=datetime.UTC)
AGE_35 = datetime.date(1990, 1, 1)
AGE_21 = datetime.date(2003, 6, 1)


@dataclass
class ResultsBank:
    campaign: Campaign
    inbound: Campaign
    card: Offer
    help: Offer
    save: Offer


def _decision(
    customer,
    campaign,
    *,
    mode=DecisionMode.EVENT,
    channel="",
    control=False,
    would_have=None,
    suppressed=None,
    event=None,
    at=NOON,
    released=1,
) -> Decision:
    return Decision.objects.create(
        id=uuid.uuid4(),
        customer=customer,
        mode=mode,
        channel=channel,
        campaign=campaign,
        event=event,
        created_at=at,
        control_group=control,
        offers_released=0 if control else released,
        outcome_reason="control_group" if control else "released",
        snapshot_version="s1",
        explanation={"would_have_offered": would_have or []},
        suppressed=suppressed or [],
    )


def _contact(decision, offer, channel, *, campaign, outcome="", cancelled=False, message=None):
    return Contact.objects.create(
        customer=decision.customer,
        decision=decision,
        message=message,
        campaign=campaign,
        offer=offer,
        product_code=offer.product.code,
        family=offer.product.family,
        kind=offer.kind,
        channel=channel,
        released_at=decision.created_at,
        cancelled=cancelled,
        outcome=outcome,
    )


def _opens(customer: Customer, product_code: str, days_after: int) -> None:
    Holding.objects.create(
        customer=customer,
        product_code=product_code,
        opened_at=DAY + datetime.timedelta(days=days_after),
        source="response",
    )


def build_results_bank() -> ResultsBank:
    campaign = CampaignFactory(code="FUEL")
    inbound = CampaignFactory(code="NBO", kind="inbound", channels=["branch"])
    card = OfferFactory(
        code="CARD", product=ProductFactory(code="CARD_P", annual_value=Decimal("100"))
    )
    help_offer = OfferFactory(
        code="HELP", kind=OfferKind.SERVICE, product=ProductFactory(code="HELP_P")
    )
    save = OfferFactory(
        code="SAVE",
        value=Decimal("50"),
        product=ProductFactory(code="SAVE_P", family="deposits", annual_value=Decimal("80")),
    )
    content = OfferContentFactory(offer=card, channel="sms")

    # treated, sms: outcomes in order; (opens on day, revokes sms consent, event latency)
    sms = [
        ("accept", 2), ("accept", 2), ("accept", 2), ("", 5), ("decline", None),
        ("decline", None), ("click", None), ("impression", None), ("", 40), ("", None),
    ]  # fmt: skip
    for index, (outcome, opens) in enumerate(sms):
        person = CustomerFactory(birth_date=AGE_35)
        event = None
        if index in (4, 5):
            event = Event.objects.create(
                event_id=f"E-{index}",
                type="card_transaction",
                occurred_at=NOON,
                customer=person,
                status="processed",
                body_hash="x",
            )
            received = NOON - datetime.timedelta(milliseconds=40 if index == 4 else 200)
            Event.objects.filter(pk=event.pk).update(received_at=received)
        decision = _decision(person, campaign, event=event)
        message = None
        cancelled = index == 9
        if cancelled:
            message = Message.objects.create(
                decision=decision,
                customer=person,
                campaign=campaign,
                offer=card,
                content=content,
                channel="sms",
                status=MessageStatus.CANCELLED,
                cancel_reason="presented_elsewhere",
                deliver_after=NOON,
                created_at=NOON,
            )
        _contact(decision, card, "sms", campaign=campaign, outcome=outcome,
                 cancelled=cancelled, message=message)  # fmt: skip
        if opens is not None:
            _opens(person, "CARD_P", opens)
        if index == 4:
            ConsentFactory(
                customer=person,
                channel="sms",
                status=ConsentStatus.REVOKED,
                captured_at=NOON + datetime.timedelta(days=1),
            )

    # treated, email
    for index in range(5):
        person = CustomerFactory(birth_date=AGE_21)
        Holding.objects.create(
            customer=person, product_code="CURRENT", opened_at=datetime.date(2024, 1, 1)
        )
        decision = _decision(person, campaign)
        _contact(decision, card, "email", campaign=campaign)
        if index == 0:
            _opens(person, "CARD_P", 1)

    # control: would have offered CARD on sms
    # as the store keeps them (the compact explanation): codes, no product or kind
    held = [{"offer_code": "CARD", "campaign": "FUEL", "channel": "sms"}]
    for index in range(8):
        young = index >= 4
        person = CustomerFactory(birth_date=AGE_21 if young else AGE_35)
        if young:
            Holding.objects.create(
                customer=person, product_code="CURRENT", opened_at=datetime.date(2024, 1, 1)
            )
        _decision(person, campaign, control=True, would_have=held)
        if index == 0:
            _opens(person, "CARD_P", 3)

    # a duplicate the engine prevented
    _decision(
        CustomerFactory(),
        campaign,
        released=0,
        suppressed=[{"offer_code": "CARD", "campaign": "FUEL", "channel": "sms",
                     "reason": "presented_elsewhere"}],
    )  # fmt: skip

    # a service action, accepted
    decision = _decision(CustomerFactory(), campaign)
    _contact(decision, help_offer, "push", campaign=campaign, outcome="accept")

    # inbound at the branch
    for index in range(4):
        person = CustomerFactory()
        decision = _decision(person, None, mode=DecisionMode.INBOUND, channel="branch")
        _contact(decision, save, "branch", campaign=inbound,
                 outcome="accept" if index == 0 else ("impression" if index < 3 else ""))  # fmt: skip
        if index < 3:
            Response.objects.create(
                response_id=f"R-{index}",
                customer=person,
                decision=decision,
                offer=save,
                outcome="accept" if index == 0 else "impression",
                occurred_at=NOON,
                channel="branch",
                agent_id="agent-1",
                body_hash="x",
            )
        if index == 0:
            _opens(person, "SAVE_P", 0)
        if index == 3:
            Override.objects.create(
                decision=decision, agent_id="agent-1", action="suppress", reason="asked", actor="t"
            )
    return ResultsBank(campaign, inbound, card, help_offer, save)
