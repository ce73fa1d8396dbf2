"""The one released-offer shape and its projections (``decisioning.decisions.released``)."""

from __future__ import annotations

import datetime
import uuid
from types import SimpleNamespace

import pytest

from decisioning import engine
from decisioning.decisions.released import (
    offer_body,
    released_audit_data,
    released_from_engine,
    released_from_message,
    stored_offer,
    stored_suppressed,
    suppressed_body,
)
from decisioning.decisions.snapshots import snapshots
from decisioning.models import Decision, Message
from decisioning.outbound.records import explained_offers, released_record
from tests.decisioning.catalog import small_bank
from tests.factories import CustomerFactory

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(hours=9)

CONTENT = engine.ContentSpec(
    offer_code="FUEL",
    channel="sms",
    version=4,
    content_hash="c" * 64,
    headline="Fuel card",
    body="Cash back at the pump",
    call_to_action="Apply",
    disclosure="APR 19.9%",
)
OFFER = engine.ReleasedOffer(
    rank=2,
    offer_code="FUEL",
    product_code="FUEL_CARD",
    family="cards",
    kind="sales",
    campaign_id=7,
    campaign_code="FUEL_TRIGGER",
    channel="sms",
    content=CONTENT,
    score=12.3456789012,
    factors=engine.ScoreFactors(0.05, 180.0, 1.0, 1.3717421, "model", "11"),
    reasons=("score 12.35", "model v11"),
    deliver_after=LATER,
)
EVENT = SimpleNamespace(event_id="E-9", type="card_transaction")
WORDS = {
    "headline": "Fuel card",
    "body": "Cash back at the pump",
    "call_to_action": "Apply",
    "disclosure": "APR 19.9%",
}
FACTORS = {"propensity": 0.05, "value": 180.0, "lever": 1.0, "context_weight": 1.3717421}


def test_what_a_decision_stores_of_a_release():
    assert stored_offer(released_from_engine(OFFER)) == {
        "rank": 2,
        "offer_code": "FUEL",
        "product_code": "FUEL_CARD",
        "campaign": "FUEL_TRIGGER",
        "channel": "sms",
        "content_version": 4,
        "content": WORDS,
        "score": 12.345679,
        "score_factors": FACTORS,
        "reasons": ["score 12.35", "model v11"],
        "deliver_after": LATER.isoformat(),
    }


def test_what_the_ledger_keeps_of_a_release():
    data = released_audit_data(
        released_from_engine(OFFER),
        decision_id="d-1",
        event=EVENT,
        policy_version=3,
        snapshot_version="catalog-9",
    )
    assert data == {
        "decision_id": "d-1",
        "offer_code": "FUEL",
        "product_code": "FUEL_CARD",
        "kind": "sales",
        "campaign": "FUEL_TRIGGER",
        "content_version": 4,
        "content_hash": "c" * 64,
        "triggering_event": {"event_id": "E-9", "type": "card_transaction"},
        "model_version": "11",
        "policy_version": 3,
        "snapshot_version": "catalog-9",
        "score": 12.3456789012,  # unrounded
        "score_factors": FACTORS,
        "rationale": ["score 12.35", "model v11"],
    }
    assert "headline" not in str(data)  # the words are in the approved content, not here


def test_what_the_api_answers_of_a_release_is_the_stored_item_without_delivery_time():
    stored = stored_offer(released_from_engine(OFFER))
    body = offer_body(stored)
    assert body == {key: value for key, value in stored.items() if key != "deliver_after"}
    assert list(body) == [
        "rank",
        "offer_code",
        "product_code",
        "campaign",
        "channel",
        "content_version",
        "content",
        "score",
        "score_factors",
        "reasons",
    ]


@pytest.mark.parametrize(
    ("item", "body"),
    [
        (  # erasure keeps only which offer went where (rights.redaction)
            {
                "rank": 1,
                "offer_code": "SAVE",
                "product_code": "SAVINGS",
                "campaign": "NBO",
                "channel": "branch",
                "content_version": 2,
            },
            {
                "rank": 1,
                "offer_code": "SAVE",
                "product_code": "SAVINGS",
                "campaign": "NBO",
                "channel": "branch",
                "content_version": 2,
                "content": None,
                "score": None,
                "score_factors": None,
                "reasons": [],
            },
        ),
        (  # a batch run stores no words or reasons, and its arm
            {
                "rank": 1,
                "offer_code": "SAVE",
                "product_code": "SAVINGS",
                "campaign": "B",
                "channel": "email",
                "content_version": 1,
                "score": 2.0,
                "score_factors": {**FACTORS, "source": "model"},
                "deliver_after": None,
                "arm": "B",
            },
            {
                "rank": 1,
                "offer_code": "SAVE",
                "product_code": "SAVINGS",
                "campaign": "B",
                "channel": "email",
                "content_version": 1,
                "content": None,
                "score": 2.0,
                "score_factors": FACTORS,
                "reasons": [],
            },
        ),
    ],
    ids=["redacted", "batch"],
)
def test_the_api_reads_offers_however_they_were_stored(item, body):
    assert offer_body(item) == body


def test_suppressed_offers_are_stored_and_answered():
    item = engine.Suppressed("GOLD", 7, "NBO", None, "frequency_cap", {"today": 1})
    stored = stored_suppressed(item)
    assert stored == {
        "offer_code": "GOLD",
        "campaign": "NBO",
        "channel": None,
        "reason": "frequency_cap",
    }
    assert suppressed_body(stored) == {
        "offer_code": "GOLD",
        "reason": "frequency_cap",
        "campaign": "NBO",
        "channel": None,
    }
    assert suppressed_body({"reason": "control_group"}) == {  # as batch runs store it
        "offer_code": "",
        "reason": "control_group",
        "campaign": "",
        "channel": None,
    }


# --- a release at lease time -------------------------------------------------------------------


@pytest.fixture
def queued(db):
    snapshots.clear()
    bank = small_bank()
    customer = CustomerFactory()
    offer = bank.fuel_card
    content = offer.contents.get(channel="sms", version=1)

    def queue(explanation):
        decision = Decision.objects.create(
            customer=customer,
            mode="event",
            created_at=NOW,
            campaign=bank.fuel_campaign,
            snapshot_version="catalog-5",
            policy_version=2,
            offers=[],
            explanation=explanation,
        )
        return Message.objects.create(
            decision=decision,
            customer=customer,
            campaign=bank.fuel_campaign,
            offer=offer,
            content=content,
            channel="sms",
            deliver_after=NOW,
            created_at=NOW,
        )

    yield queue
    snapshots.clear()


LEASE_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def lease_data(message):
    record = released_record(
        message,
        actor="api:sms",
        now=NOW,
        lease_expires_at=LATER,
        lease_id=LEASE_ID,
        address={"field": "phone", "source": "profile"},
        explained=explained_offers([message]).get(message.decision_id, []),
    )
    return record.data


def test_a_leased_message_is_audited_with_its_decisions_explanation(queued):
    explained = {**OFFER.to_dict(), "offer_code": "FUEL_CARD_CASHBACK"}
    message = queued({"offers": [explained]})
    data = lease_data(message)
    content = message.content
    assert data == {
        "message_id": str(message.pk),
        "decision_id": str(message.decision_id),
        "offer_code": "FUEL_CARD_CASHBACK",
        "product_code": "FUEL_CARD",
        "kind": "sales",
        "campaign": "FUEL_TRIGGER",
        "content_version": content.version,
        "content_hash": content.content_hash,
        "triggering_event": None,
        "model_version": "11",
        "policy_version": 2,
        "snapshot_version": "catalog-5",
        "score": 12.3456789012,
        # as the explanation recorded them: the engine's full set of factors
        "score_factors": {**FACTORS, "source": "model", "model_version": "11"},
        "rationale": ["score 12.35", "model v11"],
        "lease_count": 1,
        "lease_expires_at": "2026-11-23T21:00:00Z",  # as the ledger writes times
        "lease_id": str(LEASE_ID),
        "address": {"field": "phone", "source": "profile"},
    }
    released = released_from_message(message, [explained])
    inbound = released_audit_data(
        released,
        decision_id=message.decision_id,
        event=None,
        policy_version=2,
        snapshot_version="catalog-5",
    )
    assert data == {
        "message_id": str(message.pk),
        **inbound,
        "lease_count": 1,
        "lease_expires_at": "2026-11-23T21:00:00Z",
        "lease_id": str(LEASE_ID),
        "address": {"field": "phone", "source": "profile"},
    }


def test_a_leased_message_without_an_explained_offer_has_no_score(queued):
    message = queued({"mode": "batch"})  # batch runs explain no offers
    data = lease_data(message)
    assert (data["score"], data["score_factors"], data["rationale"]) == (None, {}, [])
    assert data["model_version"] is None and data["offer_code"] == "FUEL_CARD_CASHBACK"
