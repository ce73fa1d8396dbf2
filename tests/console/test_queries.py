"""Hot console pages run a fixed number of queries, whatever the number of rows.

Each page is measured with a few rows and with many: the counts must be equal (no N+1)
and stay under the limit asserted with ``django_assert_max_num_queries``.
"""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns import services as campaign_services
from compliance import services as compliance_services
from decisioning import selectors
from decisioning.models import Contact, Message, Response
from decisioning.rights.consent import do_not_contact_change
from offers import services as offer_services
from tests.console.builders import make_decision, pending_content_approval
from tests.factories import (
    ConsentFactory,
    CustomerFactory,
    HoldingFactory,
    IdentityLinkFactory,
)

# (name, role, url builder, max queries). Session, user and console roles are 3 of them.
HOT_PAGES = [
    ("home (marketer)", "marketer", lambda b: reverse("home"), 10),
    ("home (compliance)", "compliance", lambda b: reverse("home"), 10),
    ("product list", "marketer", lambda b: reverse("offers:product_list"), 5),
    ("offer list", "marketer", lambda b: reverse("offers:offer_list"), 5),
    # Offer, contents, targeting versions, their approvals (one query for both), history.
    ("offer detail", "marketer", lambda b: reverse("offers:offer_detail", args=[b.offer.pk]), 8),
    ("campaign list", "marketer", lambda b: reverse("campaigns:campaign_list"), 5),
    (
        "campaign detail",
        "marketer",
        lambda b: reverse("campaigns:campaign_detail", args=[b.campaign.pk]),
        8,
    ),
    ("decision ledger", "analyst", lambda b: reverse("decisioning:decision_list"), 5),
    (
        "decision ledger filtered",
        "analyst",
        lambda b: reverse("decisioning:decision_list") + f"?campaign={b.campaign.pk}&channel=sms",
        7,
    ),
    (
        "decision detail",
        "analyst",
        # + 3 for the catalog facts the compact explanation is expanded with (the offers'
        # content versions, offers without any content, the contact policy's version)
        lambda b: reverse("decisioning:decision_detail", args=[b.decision.pk]),
        10,
    ),
    (
        "decision explanation",
        "analyst",
        lambda b: reverse("decisioning:decision_explain", args=[b.decision.pk]),
        7,
    ),
    (
        "customer 360",
        "compliance",
        lambda b: reverse("decisioning:customer_360", args=[b.customer.external_id]),
        15,
    ),
    # Count, one row per change, the pending count, and the parts of the page's changes.
    ("approval queue", "compliance", lambda b: reverse("compliance:approval_list"), 7),
    (
        # ... and the other parts of the request's change, with their snapshots (one query).
        "approval detail",
        "compliance",
        lambda b: reverse("compliance:approval_detail", args=[b.approval.pk]),
        8,
    ),
    ("audit ledger", "compliance", lambda b: reverse("compliance:audit_list"), 4),
    ("run progress", "marketer", lambda b: reverse("campaigns:run_detail", args=[b.run.pk]), 5),
]


def _grow(bank, people, rounds: int) -> None:
    """Add ``rounds`` more of everything the hot pages list."""
    maker, checker = people["marketer"], people["compliance"]
    customer = bank.customer
    now = timezone.now()
    for index in range(rounds):
        product = offer_services.product_create(
            actor=maker,
            code=f"P{index}_{rounds}",
            name=f"Product {index}",
            family="deposits",
            annual_value="10",
        )
        offer = offer_services.offer_create(
            actor=maker, product=product, code=f"O{index}_{rounds}", name=f"Offer {index}"
        )
        content = offer_services.content_create_version(
            actor=maker, offer=offer, channel="email", headline="Save", body="Save more."
        )
        offer_services.content_create_version(
            actor=maker, offer=bank.offer, channel="push", headline=f"v{index}", body="Push it."
        )
        approval = offer_services.content_submit_for_approval(actor=maker, content=content)
        compliance_services.approval_comment(actor_user=checker, request=approval, body="looking")
        campaign_services.campaign_create(
            actor=maker,
            code=f"C{index}_{rounds}",
            name=f"Campaign {index}",
            kind="batch",
            channels=["email"],
            offers=[{"offer": offer, "arm": "A"}, {"offer": bank.offer, "arm": "B"}],
        )
        offer_services.product_update(actor=maker, product=bank.product, data={"name": f"N{index}"})
        decision = make_decision(
            customer, bank.campaign, created_at=now - datetime.timedelta(seconds=index + 1)
        )
        make_decision(CustomerFactory(), bank.campaign)
        message = Message.objects.create(
            decision=decision,
            customer=customer,
            campaign=bank.campaign,
            offer=bank.offer,
            content=bank.content,
            channel="sms",
            deliver_after=now,
            created_at=now,
        )
        Contact.objects.create(
            customer=customer,
            decision=decision,
            message=message,
            campaign=bank.campaign,
            offer=bank.offer,
            product_code="CARD",
            family="cards",
            kind="sales",
            channel="sms",
            released_at=now,
        )
        Response.objects.create(
            response_id=f"r-{rounds}-{index}",
            customer=customer,
            decision=decision,
            offer=bank.offer,
            outcome="click",
            occurred_at=now,
            channel="sms",
            body_hash="x",
        )
        HoldingFactory(customer=customer, product_code=f"H{index}_{rounds}")
        IdentityLinkFactory(customer=customer)
        compliance_services.suppression_add(
            actor=checker, customer=customer, scope="offer", value=f"O{index}", reason="test"
        )
    ConsentFactory(customer=customer, channel="push" if rounds == 2 else "email")
    pending_content_approval(maker, bank.offer, body=f"Round {rounds}.")


def _count(client, url: str) -> int:
    cache.clear()  # the dashboard caches its aggregate for a few seconds
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("page", HOT_PAGES, ids=[p[0] for p in HOT_PAGES])
def test_hot_pages_run_a_fixed_number_of_queries(
    client, bank, people, page, django_assert_max_num_queries
):
    _name, role, url, limit = page
    client.force_login(people[role])
    _grow(bank, people, 2)
    few = _count(client, url(bank))
    _grow(bank, people, 10)
    many = _count(client, url(bank))
    assert many == few, f"{few} queries with a few rows, {many} with many: an N+1"
    cache.clear()
    with django_assert_max_num_queries(limit):
        client.get(url(bank))


def test_customer_360_reads_every_layer_in_one_query_each(
    bank, people, django_assert_max_num_queries
):
    """Customer + do-not-contact (joined), holdings, their products, suppressions,
    decisions, identities, consents, events, messages, responses, contacts and erasures:
    twelve queries, with every relation the page shows already loaded."""
    _grow(bank, people, 10)
    do_not_contact_change(
        actor=people["compliance"], customer=bank.customer, reason="asked", source="console"
    )
    with django_assert_max_num_queries(12):
        overview = selectors.customer_360(external_id=bank.customer.external_id)
        rows = {
            field.name: list(value) if isinstance(value, QuerySet) else value
            for field in dataclasses.fields(overview)
            if (value := getattr(overview, field.name)) is not None
        }
        assert overview.do_not_contact is not None
        shown = [
            *(holding.product for holding in rows["holdings"]),
            *(decision.campaign for decision in rows["decisions"]),
            *((m.offer, m.campaign, m.content) for m in rows["messages_sent"]),
            *((c.offer, c.campaign) for c in rows["contacts"]),
            *(response.offer for response in rows["responses"]),
        ]
    assert len(rows["holdings"]) == 11 and len(rows["messages_sent"]) == 10 and shown
    assert all(entry.active for entry in rows["suppressions"])


def test_customer_360_of_an_unknown_customer_is_none(db, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert selectors.customer_360(external_id="NOPE") is None
