"""The offer screens: targeting in force, the change waiting for review, submission."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.services import approval_approve
from offers.models import OfferTargeting
from offers.services import (
    offer_activate,
    offer_create,
    offer_targeting_submit_for_approval,
    product_create,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_rules")]

RULE = 'risk_band in ("low", "medium")'


@pytest.fixture
def live_offer(maker, checker):
    product = product_create(
        actor=maker, code="LOAN", name="Loan", family="loans", annual_value=600, is_credit=True
    )
    offer = offer_create(
        actor=maker,
        product=product,
        code="LOAN_SPRING",
        name="Spring loan",
        eligibility_rule=RULE,
        lever="1.2",
    )
    approval_approve(
        actor_user=checker, request=offer_targeting_submit_for_approval(actor=maker, offer=offer)
    )
    return offer_activate(actor=maker, offer=offer)


def form_data(**changes) -> dict:
    data = {
        "name": "Spring loan",
        "kind": "sales",
        "valid_from": "",
        "valid_until": "",
        "eligibility_rule": RULE,
        "lever": "1.200",
        "value": "",
        "cooldown_days": "0",
        "trigger_weights": "",
        "note": "",
    }
    data.update(changes)
    return data


def test_a_name_only_edit_of_a_live_offer_makes_no_targeting_version(client, maker, live_offer):
    client.force_login(maker)
    response = client.post(
        reverse("offers:offer_edit", args=[live_offer.pk]), form_data(name="Spring loan 2")
    )
    assert response.status_code == 302
    live_offer.refresh_from_db()
    assert live_offer.name == "Spring loan 2"
    assert OfferTargeting.objects.filter(offer=live_offer).count() == 1


def test_a_targeting_edit_is_submitted_and_the_page_shows_what_is_in_force(
    client, maker, live_offer
):
    client.force_login(maker)
    response = client.post(
        reverse("offers:offer_edit", args=[live_offer.pk]),
        form_data(eligibility_rule='risk_band == "high"', lever="5", note="Reach"),
        follow=True,
    )
    body = response.content.decode()
    assert "submitted for approval; v1 stays in force" in body
    assert "approved, in force" in body and "v2 is waiting for review" in body
    request = ApprovalRequest.objects.get(
        subject_type=ApprovalSubject.OFFER_TARGETING, status=ApprovalStatus.PENDING
    )
    assert request.snapshot["note"] == "Reach"
    # The editor starts from the change waiting for review.
    page = client.get(reverse("offers:offer_edit", args=[live_offer.pk])).content.decode()
    assert "Targeting v2 is waiting for review" in page and "5.000" in page


def test_a_drafts_targeting_is_submitted_from_the_offer_page(client, maker):
    product = product_create(actor=maker, code="CARD", name="Card", family="cards", annual_value=9)
    offer = offer_create(actor=maker, product=product, code="CARD_NEW", name="New card")
    client.force_login(maker)
    page = client.get(reverse("offers:offer_detail", args=[offer.pk])).content.decode()
    assert "not approved: nothing released" in page and "Submit targeting v1" in page
    client.post(reverse("offers:offer_targeting_submit", args=[offer.pk]))
    request = ApprovalRequest.objects.get(subject_type=ApprovalSubject.OFFER_TARGETING)
    assert (request.subject_id, request.subject_version) == (offer.pk, 1)
    page = client.get(reverse("offers:offer_detail", args=[offer.pk])).content.decode()
    assert "Submit targeting" not in page
