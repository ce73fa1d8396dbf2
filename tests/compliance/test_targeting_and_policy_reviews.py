"""The compliance queue reviews offer targeting and contact-policy changes like content:
each request shows what changes against the version in force, with its pre-checks, and
only a checker who is not its maker decides it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.selectors import active_contact_policy, contact_policy_approval
from campaigns.services import contact_policy_update
from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.services import approval_approve
from offers.services import (
    offer_activate,
    offer_create,
    offer_targeting_submit_for_approval,
    offer_update,
    product_create,
)
from tests.factories import persona

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_rules")]

APPROVED_RULE = 'risk_band in ("low", "medium") and attributes.salary > 1000'
WIDENED_RULE = 'risk_band == "high" and income_band == "low"'


@pytest.fixture
def officer(db):
    return persona("officer", "compliance")


@pytest.fixture
def targeting_change(maker, officer):
    """A live credit offer whose approved eligibility and lever a marketer widened."""
    product = product_create(
        actor=maker, code="LOAN", name="Loan", family="loans", annual_value=600, is_credit=True
    )
    offer = offer_create(
        actor=maker,
        product=product,
        code="LOAN_SPRING",
        name="Spring loan",
        eligibility_rule=APPROVED_RULE,
        lever="1.2",
    )
    approval_approve(
        actor_user=officer, request=offer_targeting_submit_for_approval(actor=maker, offer=offer)
    )
    offer_activate(actor=maker, offer=offer)
    offer_update(actor=maker, offer=offer, data={"eligibility_rule": WIDENED_RULE, "lever": "5"})
    return ApprovalRequest.objects.get(
        subject_type=ApprovalSubject.OFFER_TARGETING, status=ApprovalStatus.PENDING
    )


@pytest.fixture
def policy_change(maker):
    pending = contact_policy_update(
        actor=maker,
        data={"daily_cap": 20, "weekly_cap": 100, "quiet_channels": [], "decline_cooldown_days": 0},
        note="More reach",
    )
    return contact_policy_approval(pending)


def detail(client, request: ApprovalRequest):
    return client.get(reverse("compliance:approval_detail", args=[request.pk]))


def test_the_queue_lists_targeting_and_policy_changes_waiting_for_review(
    client, officer, targeting_change, policy_change
):
    client.force_login(officer)
    body = client.get(reverse("compliance:approval_list")).content.decode()
    assert "LOAN_SPRING targeting" in body and "Offer targeting" in body
    assert "Contact policy" in body
    filtered = client.get(
        reverse("compliance:approval_list"), {"subject_type": ApprovalSubject.CONTACT_POLICY}
    ).content.decode()
    assert "Contact policy" in filtered and "LOAN_SPRING targeting" not in filtered


def test_a_targeting_review_shows_the_changed_fields_against_the_version_in_force(
    client, officer, targeting_change
):
    client.force_login(officer)
    response = detail(client, targeting_change)
    assert response.status_code == 200
    changed = {
        row["field"]: (row["old"], row["new"]) for row in response.context["diff"] if row["changed"]
    }
    assert changed == {
        "eligibility_rule": (APPROVED_RULE, WIDENED_RULE),
        "lever": ("1.200", "5.000"),
        "version": ("1", "2"),
    }
    body = response.content.decode()
    assert "Changes against the version in force" in body and "In force v1" in body
    assert "Until this version is approved, v1 stays in force." in body
    assert "lever_raised_sharply" in body
    assert 'href="' + reverse("offers:offer_detail", args=[targeting_change.subject_id]) in body
    assert "in_force" not in {row["field"] for row in response.context["snapshot_rows"]}


def test_a_policy_review_shows_the_changed_fields_and_every_loosening(
    client, officer, policy_change
):
    client.force_login(officer)
    response = detail(client, policy_change)
    changed = {row["field"] for row in response.context["diff"] if row["changed"]}
    assert changed == {
        "daily_cap",
        "weekly_cap",
        "quiet_channels",
        "decline_cooldown_days",
        "version",
    }
    body = response.content.decode()
    for code in ("contact_cap_raised", "quiet_hours_lifted", "decline_cooldown_shortened"):
        assert code in body
    assert reverse("campaigns:policy") in body


def test_a_checker_approves_a_targeting_change_from_the_review(client, officer, targeting_change):
    client.force_login(officer)
    response = client.post(
        reverse("compliance:approval_detail", args=[targeting_change.pk]),
        {"action": "approve", "comment": "Reviewed with credit risk"},
    )
    assert response.status_code == 302
    targeting_change.refresh_from_db()
    assert targeting_change.status == ApprovalStatus.APPROVED
    assert targeting_change.decided_by == officer


def test_the_maker_of_a_policy_change_sees_no_approve_button_and_is_refused(client):
    both = persona("both-hats", "marketer", "compliance")
    mine = contact_policy_approval(
        contact_policy_update(actor=both, data={"daily_cap": 2, "weekly_cap": 4})
    )
    client.force_login(both)
    page = detail(client, mine).content.decode()
    assert 'value="approve"' not in page and "cannot approve or reject your own work" in page
    response = client.post(
        reverse("compliance:approval_detail", args=[mine.pk]), {"action": "approve"}
    )
    assert response.status_code == 403
    mine.refresh_from_db()
    assert mine.status == ApprovalStatus.PENDING
    assert active_contact_policy().daily_cap == 1
