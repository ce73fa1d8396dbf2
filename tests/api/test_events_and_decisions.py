"""POST /api/v1/events/ and the decisions endpoints."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.utils import timezone

from customers.models import Event, Holding
from decisioning.models import Decision, Message
from ledger.models import AuditRecord
from tests.api.conftest import error_of
from tests.factories import CustomerFactory, IdentityLinkFactory

pytestmark = pytest.mark.django_db

# A trigger fires on events at most 24 hours old, processed on the real clock: the
# events sent here are a minute old (and the same in every body, for the duplicates).
FRESH = (timezone.now() - datetime.timedelta(minutes=1)).replace(microsecond=0).isoformat()


def event(event_id="E-1", **extra):
    body = {
        "event_id": event_id,
        "type": "payment_failed",
        "occurred_at": FRESH,
        "customer": {"external_id": "C123"},
        "channel": "mobile_app",
        "payload": {"amount": 42.5},
    }
    body.update(extra)
    return body


# --- events --------------------------------------------------------------------------------


def test_an_event_is_accepted_and_its_campaign_queues_a_message(
    bank, customer, channel_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = channel_api.post("/api/v1/events/", event())
    assert response.status_code == 202
    assert response.json() == {"event_id": "E-1", "status": "accepted", "duplicate": False}
    stored = Event.objects.get(event_id="E-1")
    assert stored.customer == customer and stored.status == "processed"
    assert Message.objects.filter(customer=customer, status="queued").count() == 1


def test_the_same_event_again_is_a_duplicate_that_changes_nothing(bank, customer, channel_api):
    channel_api.post("/api/v1/events/", event())
    again = channel_api.post("/api/v1/events/", event())
    assert again.status_code == 202
    assert again.json() == {"event_id": "E-1", "status": "accepted", "duplicate": True}
    assert Event.objects.count() == 1


def test_the_same_event_id_with_another_body_is_409(bank, customer, channel_api):
    channel_api.post("/api/v1/events/", event())
    response = channel_api.post("/api/v1/events/", event(payload={"amount": 1}))
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"


def test_an_event_for_an_unknown_customer_is_kept_unresolved(bank, channel_api):
    response = channel_api.post("/api/v1/events/", event(customer={"external_id": "NEW"}))
    assert response.status_code == 202
    assert response.json()["status"] == "unresolved"
    assert Event.objects.get(event_id="E-1").status == "unresolved"
    # the duplicate answers with the original status
    again = channel_api.post("/api/v1/events/", event(customer={"external_id": "NEW"}))
    assert again.json() == {"event_id": "E-1", "status": "unresolved", "duplicate": True}


def test_an_unresolved_event_is_processed_when_the_profile_arrives(
    bank, channel_api, django_capture_on_commit_callbacks
):
    channel_api.post("/api/v1/events/", event(customer={"external_id": "LATE"}))
    with django_capture_on_commit_callbacks(execute=True):
        response = channel_api.put("/api/v1/customers/LATE/", {"first_name": "Rui"})
    assert response.status_code == 201
    stored = Event.objects.get(event_id="E-1")
    assert stored.customer.external_id == "LATE" and stored.status == "processed"


def test_an_unresolved_event_is_processed_when_an_identity_link_arrives(
    bank, customer, channel_api, django_capture_on_commit_callbacks
):
    ref = {"identifier": {"type": "card_token", "value": "tok_999"}}
    assert channel_api.post("/api/v1/events/", event(customer=ref)).json()["status"] == (
        "unresolved"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = channel_api.post(
            "/api/v1/customers/C123/identities/", {"type": "card_token", "value": "tok_999"}
        )
    assert response.status_code == 201
    assert response.json()["resolved_events"] == 1
    stored = Event.objects.get(event_id="E-1")
    assert stored.customer == customer and stored.status == "processed"


def test_an_unknown_event_type_is_stored(bank, customer, channel_api):
    response = channel_api.post("/api/v1/events/", event(type="moon_landing"))
    assert response.status_code == 202
    assert Event.objects.get(event_id="E-1").type == "moon_landing"


@pytest.mark.parametrize(
    "change",
    [
        {"event_id": ""},
        {"event_id": "x" * 129},
        {"occurred_at": "yesterday"},
        {"occurred_at": "2026-01-05T10:00:00"},
        {"customer": {"external_id": "C1", "identifier": {"type": "card_token", "value": "t"}}},
        {"customer": {}},
        {"customer": "C123"},
        {"channel": "pigeon"},
        {"payload": [1]},
    ],
)
def test_an_invalid_event_is_400(bank, channel_api, change):
    response = channel_api.post("/api/v1/events/", event(**change))
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_a_channel_client_cannot_send_events_for_another_channel(bank, make_api):
    response = make_api("channel", ["atm"]).post("/api/v1/events/", event(channel="web"))
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


# --- decisions -----------------------------------------------------------------------------


def decide(api, **extra):
    body = {"customer": {"external_id": "C123"}, "channel": "contact_center"}
    body.update(extra)
    return api.post("/api/v1/decisions/", body)


def test_a_decision_answers_exactly_as_the_contract_says(bank, customer, channel_api):
    response = decide(channel_api, context={"event_type": "loan_calculator_used"}, max_offers=3)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "decision_id",
        "customer",
        "channel",
        "control_group",
        "created_at",
        "expires_at",
        "offers",
        "suppressed",
    }
    assert body["customer"] == "C123" and body["channel"] == "contact_center"
    assert body["control_group"] is False
    uuid.UUID(body["decision_id"])
    assert body["offers"], body
    offer = body["offers"][0]
    assert {
        "rank",
        "offer_code",
        "product_code",
        "campaign",
        "content_version",
        "content",
        "score",
        "score_factors",
        "reasons",
    } <= set(offer)
    assert set(offer["content"]) == {"headline", "body", "call_to_action", "disclosure"}
    assert set(offer["score_factors"]) == {"propensity", "value", "lever", "context_weight"}
    assert offer["rank"] == 1 and offer["campaign"] == "NBO_INBOUND"
    for item in body["suppressed"]:
        assert {"offer_code", "reason"} <= set(item)
    released = AuditRecord.objects.filter(kind="offer_released", object_id=body["decision_id"])
    assert released.count() == len(body["offers"])
    assert all(r.customer_ref == customer.pseudonym for r in released)


def test_a_customer_named_by_identifier_is_resolved(bank, customer, channel_api):
    IdentityLinkFactory(customer=customer, type="card_token", value="tok_1")
    response = decide(
        channel_api, customer={"identifier": {"type": "card_token", "value": "tok_1"}}
    )
    assert response.status_code == 200
    assert response.json()["customer"] == "C123"


def test_an_unknown_customer_is_404(bank, channel_api):
    response = decide(channel_api, customer={"external_id": "NOBODY"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_an_empty_offer_list_is_a_normal_answer(bank, channel_api):
    person = CustomerFactory(external_id="C123", birth_date=None)
    for code in ("FUEL_CARD", "SAVINGS_PLUS", "PERSONAL_LOAN"):
        Holding.objects.create(customer=person, product_code=code)
    response = decide(channel_api)
    assert response.status_code == 200
    assert response.json()["offers"] == []


@pytest.mark.parametrize(
    "change",
    [
        {"max_offers": 0},
        {"max_offers": 11},
        {"channel": "sms"},
        {"channel": "moon"},
        {"customer": {"external_id": ""}},
        {"context": {"event_type": ""}},
    ],
)
def test_an_invalid_decision_request_is_400(bank, customer, channel_api, change):
    response = decide(channel_api, **change)
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_max_offers_limits_the_offers(bank, customer, channel_api):
    body = decide(channel_api, max_offers=1).json()
    assert len(body["offers"]) <= 1


def test_a_channel_client_cannot_decide_for_another_channel(bank, customer, make_api):
    response = decide(make_api("channel", ["branch"]), channel="web")
    assert response.status_code == 403


def test_the_decision_is_read_back_with_its_full_explanation(
    bank, customer, channel_api, compliance_api
):
    decision_id = decide(channel_api).json()["decision_id"]
    response = compliance_api.get(f"/api/v1/decisions/{decision_id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["decision_id"] == decision_id and body["mode"] == "inbound"
    explanation = body["explanation"]
    assert explanation["candidates"] and "policy_version" in explanation
    assert "verdicts" in explanation["candidates"][0]


def test_an_unknown_decision_is_404(compliance_api):
    response = compliance_api.get(f"/api/v1/decisions/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert compliance_api.get("/api/v1/decisions/not-a-uuid/").status_code == 404


def test_a_channel_client_reads_only_decisions_of_its_channels(bank, customer, make_api):
    decision_id = decide(make_api("channel", ["contact_center"])).json()["decision_id"]
    assert make_api("channel", ["web"]).get(f"/api/v1/decisions/{decision_id}/").status_code == (
        403
    )
    assert (
        make_api("channel", ["contact_center"]).get(f"/api/v1/decisions/{decision_id}/").status_code
        == 200
    )


def test_decide_stays_within_a_query_budget(
    bank, customer, channel_api, django_assert_max_num_queries
):
    decide(channel_api)  # warm the snapshot cache
    with django_assert_max_num_queries(16):
        assert decide(channel_api).status_code == 200
    assert Decision.objects.count() == 2


def test_batch_and_redacted_decisions_read_back_too(bank, customer, compliance_api):
    from django.utils import timezone

    batch = Decision.objects.create(
        customer=customer,
        mode="batch",
        created_at=timezone.now(),
        snapshot_version="catalog-1",
        offers=[
            {
                "rank": 1,
                "offer_code": "SAVINGS_RETAIN",
                "product_code": "SAVINGS_PLUS",
                "campaign": "B",
                "channel": "email",
                "content_version": 1,
                "score": 2.0,
                "score_factors": {"propensity": 0.1, "value": 20, "lever": 1, "context_weight": 1},
            }
        ],
        explanation={"mode": "batch"},
    )
    redacted = Decision.objects.create(
        customer=customer,
        mode="inbound",
        channel="branch",
        created_at=timezone.now(),
        snapshot_version="catalog-1",
        offers=[{"rank": 1, "offer_code": "SAVINGS_RETAIN", "channel": "branch"}],
        explanation={"redacted": "erasure"},
    )
    for decision in (batch, redacted):
        response = compliance_api.get(f"/api/v1/decisions/{decision.pk}/")
        assert response.status_code == 200, response.content
        [offer] = response.json()["offers"]
        assert offer["offer_code"] == "SAVINGS_RETAIN" and offer["content"] is None
