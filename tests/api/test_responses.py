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
        agent_id="banker-3",  # a banker saw it: an accept naming no decision needs one
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


# --- an accept must say where the offer reached the customer --------------------------------


def _holds(customer, product_code="FUEL_CARD") -> bool:
    return Holding.objects.filter(
        customer=customer, product_code=product_code, closed_at__isnull=True
    ).exists()


def _hand_out(message):
    Message.objects.filter(pk=message.pk).update(
        status="leased",
        lease_count=1,
        lease_expires_at=timezone.now() + datetime.timedelta(minutes=5),
    )


def _accept(api, **body):
    return respond(api, None, offer_code="FUEL_CARD_CASHBACK", outcome="accept", **body)


@pytest.mark.parametrize("channel", ["atm", "web", "mobile_app", "push", "sms", "email"])
def test_a_machine_channel_accept_naming_no_decision_or_message_is_422_and_holds_nothing(
    bank, customer, make_api, channel
):
    api = make_api("channel", [channel])
    response = _accept(api, customer={"external_id": "C123"}, channel=channel, agent_id="x")
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "unprocessable" and "outcome" in error["fields"]
    assert "decision_id or message_id" in error["message"]
    assert not _holds(customer) and not Response.objects.exists()


def test_a_human_channel_accept_without_a_decision_needs_an_agent_id(bank, customer, make_api):
    branch = make_api("channel", ["branch"])
    without = _accept(branch, customer={"external_id": "C123"}, channel="branch")
    assert without.status_code == 422 and not _holds(customer)
    assert "agent_id" in error_of(without)["message"]
    blank = _accept(branch, customer={"external_id": "C123"}, channel="branch", agent_id="  ")
    assert blank.status_code == 422  # whitespace is not an agent
    attested = _accept(
        branch, customer={"external_id": "C123"}, channel="branch", agent_id="banker-3"
    )
    assert attested.status_code == 201 and _holds(customer)


def test_an_accept_of_an_offer_the_decision_released_on_that_channel_is_recorded(
    bank, customer, make_api
):
    web = make_api("channel", ["web"])
    decision = web.post(
        "/api/v1/decisions/", {"customer": {"external_id": "C123"}, "channel": "web"}
    ).json()
    assert decision["offers"], decision
    response = respond(web, decision, channel="web", outcome="accept")
    assert response.status_code == 201
    assert _holds(customer, decision["offers"][0]["product_code"])


def test_an_accept_reported_on_another_channel_than_the_decisions_is_422(
    bank, customer, channel_api
):
    decision = channel_api.post(
        "/api/v1/decisions/", {"customer": {"external_id": "C123"}, "channel": "web"}
    ).json()
    response = respond(channel_api, decision, channel="mobile_app", outcome="accept")
    assert response.status_code == 422
    assert "decision_id" in error_of(response)["fields"]
    assert not _holds(customer, decision["offers"][0]["product_code"])
    # other outcomes are unchanged: the click is recorded
    assert respond(channel_api, decision, channel="mobile_app").status_code == 201


def test_an_accept_of_a_message_is_recorded_once_the_gateway_had_it(bank, customer, make_api):
    sms = make_api("channel", ["sms"])
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    never_sent = _accept(sms, message_id=str(message.pk), channel="sms")
    assert never_sent.status_code == 422
    assert "message_id" in error_of(never_sent)["fields"] and not _holds(customer)
    _hand_out(message)
    response = _accept(sms, response_id="R-2", message_id=str(message.pk), channel="sms")
    assert response.status_code == 201 and _holds(customer)


def test_an_accept_of_a_message_reported_on_another_machine_channel_is_422(
    bank, customer, channel_api
):
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    _hand_out(message)
    response = _accept(channel_api, message_id=str(message.pk), channel="email")
    assert response.status_code == 422
    assert "message_id" in error_of(response)["fields"] and not _holds(customer)


def test_a_banker_may_record_the_accept_of_an_sms_offer_the_customer_brings_in(
    bank, customer, channel_api
):
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    response = _accept(
        channel_api, message_id=str(message.pk), channel="branch", agent_id="banker-3"
    )
    assert response.status_code == 201 and _holds(customer)


def test_an_accept_by_decision_of_an_outbound_offer_needs_its_message_handed_out(
    bank, customer, make_api
):
    sms = make_api("channel", ["sms"])
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    by_decision = {"decision_id": str(message.decision_id), "channel": "sms"}
    assert _accept(sms, **by_decision).status_code == 422
    Message.objects.filter(pk=message.pk).update(status="cancelled", cancel_reason="no_consent")
    assert _accept(sms, **by_decision).status_code == 422  # the gate stopped it
    Message.objects.filter(pk=message.pk).update(status="delivered", lease_count=1)
    assert _accept(sms, response_id="R-3", **by_decision).status_code == 201
    assert _holds(customer)


@pytest.mark.parametrize("outcome", ["impression", "click", "decline", "dismiss"])
def test_other_outcomes_naming_only_the_customer_are_recorded_as_before(
    bank, customer, make_api, outcome
):
    web = make_api("channel", ["web"])
    response = respond(
        web,
        None,
        customer={"external_id": "C123"},
        offer_code="FUEL_CARD_CASHBACK",
        outcome=outcome,
        channel="web",
    )
    assert response.status_code == 201


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
