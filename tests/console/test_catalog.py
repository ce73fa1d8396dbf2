"""Catalog screens: products, offers, content versions and submission for approval."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compliance.choices import ApprovalStatus
from compliance.models import ApprovalRequest
from offers.models import Offer, OfferContent, Product


def test_a_marketer_creates_a_product_through_the_service(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(
        reverse("offers:product_create"),
        {
            "code": "SAVINGS",
            "name": "Savings account",
            "family": "deposits",
            "annual_value": "55.00",
            "is_active": "on",
        },
    )
    product = Product.objects.get(code="SAVINGS")
    assert response.status_code == 302
    assert response["Location"] == reverse("offers:product_detail", args=[product.pk])
    assert product.history.count() == 1  # django-simple-history saw the service's save


def test_the_product_form_shows_the_services_error(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(
        reverse("offers:product_create"),
        {"code": "CARD", "name": "Again", "family": "cards", "annual_value": "1"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "The product is not valid." in body
    assert "already exists" in body  # the service's full_clean, shown on the code field


def test_editing_a_product_goes_through_the_service_and_shows_in_history(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(
        reverse("offers:product_edit", args=[bank.product.pk]),
        {
            "name": "Fuel card plus",
            "family": "cards",
            "annual_value": "130",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    bank.product.refresh_from_db()
    assert bank.product.name == "Fuel card plus"
    page = client.get(reverse("offers:product_detail", args=[bank.product.pk])).content.decode()
    assert "Fuel card plus" in page and "annual_value" in page


def test_an_offer_on_a_credit_product_refuses_protected_attributes(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(
        reverse("offers:offer_create"),
        {
            "product": bank.credit_product.pk,
            "code": "LOAN_TARGETED",
            "name": "Loan",
            "kind": "sales",
            "eligibility_rule": 'attributes.gender == "f"',
            "lever": "1",
            "cooldown_days": "0",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "protected attributes" in body
    assert not Offer.objects.filter(code="LOAN_TARGETED").exists()


def test_a_marketer_creates_and_edits_an_offer(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(
        reverse("offers:offer_create"),
        {
            "product": bank.product.pk,
            "code": "CARD_TRAVEL",
            "name": "Travel card",
            "kind": "sales",
            "eligibility_rule": "age >= 21",
            "lever": "1.2",
            "cooldown_days": "7",
            "trigger_weights": "fuel_purchase: 1.5\ntravel_booked = 2",
        },
    )
    offer = Offer.objects.get(code="CARD_TRAVEL")
    assert response.status_code == 302
    assert offer.trigger_weights == {"fuel_purchase": 1.5, "travel_booked": 2.0}
    response = client.post(
        reverse("offers:offer_edit", args=[offer.pk]),
        {
            "name": "Travel card",
            "kind": "sales",
            "eligibility_rule": "age >= 25",
            "lever": "1.2",
            "cooldown_days": "7",
            "trigger_weights": "",
        },
    )
    offer.refresh_from_db()
    assert response.status_code == 302
    assert offer.eligibility_rule == "age >= 25" and offer.trigger_weights == {}


def test_malformed_trigger_weights_are_a_form_error(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(
        reverse("offers:offer_edit", args=[bank.offer.pk]),
        {
            "name": "x",
            "kind": "sales",
            "lever": "1",
            "cooldown_days": "0",
            "trigger_weights": "a: b",
        },
    )
    assert response.status_code == 400
    assert "is not a number" in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("value", "-5", "The value cannot be negative."),
        ("lever", "0", "The lever must be greater than 0"),
    ],
)
def test_an_offer_refuses_a_negative_value_or_no_lever_in_plain_words(
    client, people, bank, field, value, message
):
    client.force_login(people["marketer"])
    body = {
        "product": bank.product.pk,
        "code": "CARD_NEGATIVE",
        "name": "Card",
        "kind": "sales",
        "lever": "1",
        "cooldown_days": "0",
        "trigger_weights": "",
        field: value,
    }
    response = client.post(reverse("offers:offer_create"), body)
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert "Constraint" not in page and "violated" not in page
    assert not Offer.objects.filter(code="CARD_NEGATIVE").exists()


def test_offer_detail_shows_content_per_channel_with_approval_state_and_history(
    client, people, bank
):
    client.force_login(people["analyst"])
    body = client.get(reverse("offers:offer_detail", args=[bank.offer.pk])).content.decode()
    assert 'id="channel-sms"' in body
    assert "2% back on fuel" in body
    assert "Approved" in body or "approved" in body
    assert "History" in body and "created" in body
    assert "Activate" not in body  # read-only for analysts


def test_an_offer_status_button_calls_the_service(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(reverse("offers:offer_transition", args=[bank.offer.pk, "pause"]))
    assert response.status_code == 302
    bank.offer.refresh_from_db()
    assert bank.offer.status == "paused"
    response = client.post(
        reverse("offers:offer_transition", args=[bank.offer.pk, "pause"]), follow=True
    )
    assert response.status_code == 200


def test_saving_content_makes_a_new_version_and_submitting_shows_the_findings(client, people, bank):
    client.force_login(people["marketer"])
    url = reverse("offers:content_edit", args=[bank.offer.pk, "sms"])
    response = client.post(
        url,
        {
            "headline": "Guaranteed approval!",
            "body": "Guaranteed approval on your fuel card.",
            "call_to_action": "Apply",
        },
    )
    assert response.status_code == 302
    new = OfferContent.objects.get(offer=bank.offer, channel="sms", version=2)
    assert new.headline == "Guaranteed approval!"
    bank.content.refresh_from_db()
    assert bank.content.headline == "2% back on fuel"  # the approved version never changes

    response = client.post(reverse("offers:content_submit", args=[new.pk]), follow=True)
    body = response.content.decode()
    approval = ApprovalRequest.objects.get(subject_id=new.pk)
    assert approval.status == ApprovalStatus.PENDING and approval.has_blocking_findings
    assert "blocking finding" in body
    assert "banned_phrase" in body or "Blocking" in body
    assert "sms_without_opt_out" in body or "STOP" in body


def test_the_content_editor_previews_the_prechecks_as_you_type(client, people, bank):
    client.force_login(people["marketer"])
    response = client.post(
        reverse("offers:content_precheck", args=[bank.offer.pk, "sms"]),
        {"headline": "Hi", "body": "Risk-free money", "call_to_action": ""},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="findings"' in body and "<html" not in body
    assert "Blocking" in body


def test_retiring_an_offer_asks_first_and_acts_only_when_confirmed(client, people, bank):
    client.force_login(people["marketer"])
    retire = reverse("offers:offer_transition", args=[bank.offer.pk, "retire"])
    asked = client.post(retire)
    page = asked.content.decode()
    bank.offer.refresh_from_db()
    assert asked.status_code == 200 and bank.offer.status == "active"
    assert "cannot be undone" in page and 'name="confirm" value="yes"' in page
    assert f'action="{retire}"' in page
    client.post(retire, {"confirm": "yes"})
    bank.offer.refresh_from_db()
    assert bank.offer.status == "retired"


def test_content_of_a_retired_offer_shows_the_services_refusal(client, people, bank):
    client.force_login(people["marketer"])
    retire = reverse("offers:offer_transition", args=[bank.offer.pk, "retire"])
    client.post(retire, {"confirm": "yes"})
    response = client.post(
        reverse("offers:content_edit", args=[bank.offer.pk, "sms"]),
        {"headline": "x", "body": "y"},
    )
    assert response.status_code == 400
    assert "is retired" in response.content.decode()


def test_a_content_version_address_leads_to_its_editor(client, people, bank):
    client.force_login(people["marketer"])
    response = client.get(reverse("offers:content_redirect", args=[bank.content.pk]))
    assert response.status_code == 302
    assert response["Location"].endswith(
        reverse("offers:content_edit", args=[bank.offer.pk, "sms"]) + "#version-1"
    )
