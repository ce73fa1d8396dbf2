"""POST /api/v1/responses/ and /api/v1/overrides/."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.utils import timezone

from compliance.models import SuppressionEntry
from customers.models import Holding
from decisioning.models import Contact, Message, Override, Response
from ledger.models import AuditRecord
from tests.api.conftest import error_of
from tests.api.test_messages import no_quiet_hours, queue_message  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def decision(bank, customer, channel_api):
    body = channel_api.post(
        "/api/v1/decisions/",
        {"customer": {"external_id": "C123"}, "channel": "branch", "max_offers": 3},
    ).json()
    assert body["offers"], body
    return body


def respond(api, decision=None, response_id="R-1", **extra):
    body = {
        "response_id": response_id,
        "offer_code": decision["offers"][0]["offer_code"] if decision else "FUEL_CARD_CASHBACK",
        "outcome": "click",
        "occurred_at": timezone.now().isoformat(),
        "channel": "branch",
    }
    if decision:
        body["decision_id"] = decision["decision_id"]
    body.update(extra)
    return api.post("/api/v1/responses/", body)


def offered_product(decision):
    return decision["offers"][0]["product_code"]


def test_a_response_is_recorded_201_and_updates_the_contact(decision, channel_api):
    response = respond(channel_api, decision, agent_id="agent-7")
    assert response.status_code == 201
    body = response.json()
    assert body["duplicate"] is False and body["customer"] == "C123"
    assert body["decision_id"] == decision["decision_id"] and body["agent_id"] == "agent-7"
    contact = Contact.objects.get(
        decision_id=decision["decision_id"], offer__code=decision["offers"][0]["offer_code"]
    )
    assert contact.outcome == "click" and contact.outcome_at is not None
    record = AuditRecord.objects.get(kind="response", object_id=str(Response.objects.get().pk))
    assert record.action == "response_click" and record.data["response_id"] == "R-1"


def test_the_same_response_again_is_200_with_the_original_and_changes_nothing(
    decision, channel_api
):
    first = respond(channel_api, decision, occurred_at="2026-01-01T10:00:00+00:00")
    again = respond(channel_api, decision, occurred_at="2026-01-01T11:00:00+01:00")
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert Response.objects.count() == 1
    assert (
        AuditRecord.objects.filter(
            kind="response", object_id=str(Response.objects.get().pk)
        ).count()
        == 1
    )


def test_the_same_response_id_with_another_body_is_409(decision, channel_api):
    respond(channel_api, decision)
    response = respond(channel_api, decision, outcome="decline")
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"


def test_accept_records_the_product_as_held_and_its_family_is_not_offered_again(
    decision, customer, channel_api
):
    product = offered_product(decision)
    assert respond(channel_api, decision, outcome="accept").status_code == 201
    assert Holding.objects.filter(
        customer=customer, product_code=product, closed_at__isnull=True
    ).exists()
    again = channel_api.post(
        "/api/v1/decisions/", {"customer": {"external_id": "C123"}, "channel": "web"}
    ).json()
    assert product not in [offer["product_code"] for offer in again["offers"]]
    # accepting twice (another response id) keeps one open holding
    respond(channel_api, decision, response_id="R-2", outcome="accept")
    assert Holding.objects.filter(customer=customer, product_code=product).count() == 1


def test_accept_cancels_queued_sales_messages_of_the_family(bank, customer, channel_api):
    queued = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    response = respond(
        channel_api,
        None,
        customer={"external_id": "C123"},
        offer_code="FUEL_CARD_CASHBACK",
        outcome="accept",
    )
    assert response.status_code == 201
    queued.refresh_from_db()
    assert (queued.status, queued.cancel_reason) == ("cancelled", "holds_product")


def test_decline_starts_the_cooldown_on_every_channel_before_returning(
    decision, customer, channel_api
):
    product = offered_product(decision)
    assert respond(channel_api, decision, outcome="decline").status_code == 201
    for channel in ("web", "mobile_app", "contact_center"):
        body = channel_api.post(
            "/api/v1/decisions/", {"customer": {"external_id": "C123"}, "channel": channel}
        ).json()
        assert product not in [offer["product_code"] for offer in body["offers"]], channel
        reasons = {
            s["reason"]
            for s in body["suppressed"]
            if s["offer_code"] == decision["offers"][0]["offer_code"]
        }
        assert reasons == {"cooldown_after_decline"}, (channel, body["suppressed"])


def test_a_decline_naming_no_decision_suppresses_the_product_for_the_cooldown(
    bank, customer, channel_api
):
    queued = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    response = respond(
        channel_api,
        None,
        customer={"external_id": "C123"},
        offer_code="FUEL_CARD_CASHBACK",
        outcome="decline",
    )
    assert response.status_code == 201
    entry = SuppressionEntry.objects.get(customer=customer, scope="product")
    assert entry.value == "FUEL_CARD" and entry.reason == "cooldown_after_decline"
    assert entry.until > timezone.now() + datetime.timedelta(days=29)
    queued.refresh_from_db()
    assert (queued.status, queued.cancel_reason) == ("cancelled", "cooldown_after_decline")


def test_a_response_to_a_message_updates_its_contact(bank, customer, channel_api):
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    response = respond(
        channel_api,
        None,
        message_id=str(message.pk),
        offer_code="FUEL_CARD_CASHBACK",
        channel="sms",
        outcome="click",
    )
    assert response.status_code == 201
    assert response.json()["decision_id"] == str(message.decision_id)
    assert Contact.objects.get(message=message).outcome == "click"


def test_a_weaker_late_outcome_does_not_overwrite_a_stronger_one(decision, channel_api):
    respond(channel_api, decision, outcome="click")
    respond(channel_api, decision, response_id="R-2", outcome="impression")
    contact = Contact.objects.get(
        decision_id=decision["decision_id"], offer__code=decision["offers"][0]["offer_code"]
    )
    assert contact.outcome == "click"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"offer_code": "NO_SUCH_OFFER"}, "offer_code"),
        ({"decision_id": str(uuid.uuid4())}, "decision_id"),
        ({"message_id": str(uuid.uuid4())}, "message_id"),
        ({"offer_code": "PAYMENT_HELP"}, "offer_code"),  # not offered in this decision
    ],
)
def test_responses_that_cannot_be_acted_on_are_422(decision, channel_api, change, field):
    response = respond(channel_api, decision, **change)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "unprocessable" and field in error["fields"]


def test_a_response_naming_nobody_is_422(bank, channel_api):
    response = respond(channel_api, None)
    assert response.status_code == 422


@pytest.mark.parametrize(
    "change",
    [
        {"outcome": "love"},
        {"channel": "fax"},
        {"occurred_at": "2026-01-01T10:00:00"},
        {"decision_id": "nope"},
        {"response_id": ""},
    ],
)
def test_invalid_responses_are_400(decision, channel_api, change):
    response = respond(channel_api, decision, **change)
    assert response.status_code == 400


def test_a_channel_client_reports_responses_only_for_its_channels(decision, make_api):
    assert respond(make_api("channel", ["web"]), decision).status_code == 403


# --- overrides ------------------------------------------------------------------------------


def override(api, decision, **extra):
    body = {
        "decision_id": decision["decision_id"],
        "agent_id": "agent-7",
        "action": "replace",
        "offer_code": "SAVINGS_RETAIN",
        "reason": "Customer asked about savings",
    }
    body.update(extra)
    return api.post("/api/v1/overrides/", body)


def test_an_override_is_recorded_and_audited(decision, channel_api):
    response = override(channel_api, decision)
    assert response.status_code == 201
    body = response.json()
    assert body["action"] == "replace" and body["offer_code"] == "SAVINGS_RETAIN"
    stored = Override.objects.get()
    assert stored.agent_id == "agent-7" and str(stored.decision_id) == decision["decision_id"]
    record = AuditRecord.objects.get(kind="override", object_id=decision["decision_id"])
    assert record.data["decision_id"] == decision["decision_id"]
    assert record.action == "override_replace"


def test_an_accept_of_the_replacement_offer_is_recorded(decision, channel_api):
    override(channel_api, decision)
    response = respond(channel_api, decision, offer_code="SAVINGS_RETAIN", outcome="accept")
    assert response.status_code == 201


def test_a_suppress_override(decision, channel_api):
    response = override(
        channel_api,
        decision,
        action="suppress",
        offer_code=decision["offers"][0]["offer_code"],
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"decision_id": str(uuid.uuid4())}, 422),
        ({"offer_code": "NOPE"}, 422),
        ({"offer_code": None}, 422),  # replace needs an offer
        ({"action": "ignore"}, 400),
        ({"reason": ""}, 400),
        ({"agent_id": "   "}, 400),
    ],
)
def test_invalid_overrides(decision, channel_api, change, status):
    response = override(channel_api, decision, **change)
    assert response.status_code == status
    error_of(response)


def test_a_channel_client_overrides_only_decisions_of_its_channels(decision, make_api):
    assert override(make_api("channel", ["web"]), decision).status_code == 403


def test_message_fixture_is_sms(bank, customer):
    assert queue_message(customer, bank.fuel_card, bank.fuel_campaign).channel == "sms"
    assert Message.objects.count() == 1
