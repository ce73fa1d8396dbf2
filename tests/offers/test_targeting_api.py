"""Over the channel API: an unapproved targeting change lets nobody new through."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from campaigns.services import campaign_create, campaign_launch, campaign_submit_targeting
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.services import approval_approve
from crosssell.services import api_client_create
from decisioning.decisions.snapshots import snapshots
from offers.services import (
    content_create_version,
    content_submit_for_approval,
    offer_activate,
    offer_create,
    offer_targeting_submit_for_approval,
    offer_update,
    product_create,
)
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_rules")]

APPROVED_RULE = 'risk_band in ("low", "medium") and attributes.salary > 1000'
WIDENED_RULE = 'risk_band == "high" and income_band == "low"'


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


@pytest.fixture
def branch_loan(maker, checker):
    """A live credit offer (targeting v1 approved) in a running inbound campaign."""
    product = product_create(
        actor=maker,
        code="PERSONAL_LOAN",
        name="Personal loan",
        family="loans",
        annual_value="600",
        is_credit=True,
    )
    offer = offer_create(
        actor=maker,
        product=product,
        code="LOAN_SPRING",
        name="Spring loan",
        eligibility_rule=APPROVED_RULE,
        lever="1.2",
    )
    content = content_create_version(
        actor=maker,
        offer=offer,
        channel="branch",
        headline="A loan for your plans",
        body="Ask your banker about our spring loan.",
        disclosure="Representative 9.9% APR (variable).",
    )
    approval_approve(
        actor_user=checker, request=content_submit_for_approval(actor=maker, content=content)
    )
    approval_approve(
        actor_user=checker, request=offer_targeting_submit_for_approval(actor=maker, offer=offer)
    )
    offer_activate(actor=maker, offer=offer)
    campaign = campaign_create(
        actor=maker,
        code="NBO_BRANCH",
        name="Branch next best offer",
        kind="inbound",
        channels=["branch"],
        control_group_pct=0,
        offers=[{"offer": offer}],
    )
    approval_approve(
        actor_user=checker, request=campaign_submit_targeting(actor=maker, campaign=campaign)
    )
    campaign_launch(actor=maker, campaign=campaign)
    return offer


@pytest.fixture
def branch_key(db) -> str:
    _, key = api_client_create(
        actor="system:tests", name="branch-desktop", role="channel", channels=["branch"]
    )
    return key


def decide(key: str, external_id: str) -> dict:
    response = Client().post(
        "/api/v1/decisions/",
        data=json.dumps({"customer": {"external_id": external_id}, "channel": "branch"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_high_risk_low_income_customers_still_fail_eligibility_after_the_unapproved_edit(
    maker, checker, branch_loan, branch_key
):
    CustomerFactory(
        external_id="HIGH_RISK", risk_band="high", income_band="low", attributes={"salary": 600}
    )
    for external_id in ("LOW_RISK_1", "LOW_RISK_2"):  # one each: a release counts on the caps
        CustomerFactory(
            external_id=external_id,
            risk_band="low",
            income_band="middle",
            attributes={"salary": 2500},
        )
    assert [o["offer_code"] for o in decide(branch_key, "LOW_RISK_1")["offers"]] == ["LOAN_SPRING"]

    offer_update(
        actor=maker,
        offer=branch_loan,
        data={"eligibility_rule": WIDENED_RULE, "lever": "5.0"},
    )

    high_risk = decide(branch_key, "HIGH_RISK")
    assert high_risk["offers"] == []
    assert [(s["offer_code"], s["reason"]) for s in high_risk["suppressed"]] == [
        ("LOAN_SPRING", "ineligible")
    ]
    low_risk = decide(branch_key, "LOW_RISK_2")
    assert [o["offer_code"] for o in low_risk["offers"]] == ["LOAN_SPRING"]
    assert low_risk["offers"][0]["score_factors"]["lever"] == 1.2

    # Once a checker approves the change, it is the targeting in force.
    request = ApprovalRequest.objects.get(
        subject_type=ApprovalSubject.OFFER_TARGETING,
        subject_id=branch_loan.pk,
        status=ApprovalStatus.PENDING,
    )
    approval_approve(actor_user=checker, request=request)
    now_eligible = decide(branch_key, "HIGH_RISK")
    assert [o["offer_code"] for o in now_eligible["offers"]] == ["LOAN_SPRING"]
    assert now_eligible["offers"][0]["score_factors"]["lever"] == 5.0
