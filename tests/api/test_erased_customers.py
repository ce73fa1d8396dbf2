"""After erasure the customer is addressable by no reference (DESIGN.md rules 1 and 10):
not by the ``erased:<pseudonym>`` id, not by their former bank id, not by a former
identifier (an identity link erasure removed, or the profile's e-mail or phone)."""

from __future__ import annotations

import pytest

from customers.identity import REDACTED
from customers.models import Customer, ErasedIdentifier, Event, IdentityLink
from decisioning.models import Decision
from tests.api.conftest import error_of
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

EMAIL = "ana.erased@mail.example"
PHONE = "+351910000123"
CARD = "tok-erased-1"


@pytest.fixture
def erased(bank, customer, compliance_api, channel_api) -> Customer:
    """C123, linked by a card token and a device id, then erased through the API."""
    Customer.objects.filter(pk=customer.pk).update(email=EMAIL, phone=PHONE)
    IdentityLink.objects.create(customer=customer, type="card_token", value=CARD)
    IdentityLink.objects.create(customer=customer, type="device_id", value="dev-erased")
    assert compliance_api.delete("/api/v1/customers/C123/").status_code == 202
    customer.refresh_from_db()
    assert customer.is_erased
    return customer


def references(customer: Customer) -> dict[str, dict]:
    return {
        "erased_id": {"external_id": customer.external_id},
        "former_id": {"external_id": "C123"},
        "former_card_token": {"identifier": {"type": "card_token", "value": CARD}},
        "former_device_id": {"identifier": {"type": "device_id", "value": "dev-erased"}},
        "former_email": {"identifier": {"type": "email", "value": EMAIL}},
        "former_email_other_case": {"identifier": {"type": "email", "value": EMAIL.upper()}},
        "former_phone": {"identifier": {"type": "phone", "value": PHONE}},
        "former_phone_spaced": {"identifier": {"type": "phone", "value": "+351 910 000 123"}},
    }


REFERENCES = list(references(Customer(external_id="erased:x")))


def event(reference, event_id="E-ERASED", payload=None):
    return {
        "event_id": event_id,
        "type": "card_transaction",
        "occurred_at": "2026-01-05T10:00:00+01:00",
        "customer": reference,
        "channel": "mobile_app",
        "payload": payload if payload is not None else {"amount": 42.5},
    }


# --- decisions ----------------------------------------------------------------------------


@pytest.mark.parametrize("reference", REFERENCES)
def test_an_inbound_decision_for_an_erased_customer_is_422_and_stores_nothing(
    erased, channel_api, reference
):
    before = Decision.objects.count()
    response = channel_api.post(
        "/api/v1/decisions/",
        {"customer": references(erased)[reference], "channel": "contact_center"},
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "unprocessable" and error["fields"] == {"customer": ["erased"]}
    assert "erased" in error["message"]
    assert Decision.objects.count() == before


def test_an_unknown_customer_is_still_404(erased, channel_api):
    response = channel_api.post(
        "/api/v1/decisions/", {"customer": {"external_id": "NOBODY"}, "channel": "web"}
    )
    assert response.status_code == 404


def test_decide_inbound_refuses_an_erased_customer_whoever_calls_it(erased):
    from core.exceptions import Unprocessable
    from decisioning.decisions.inbound import decide_inbound

    with pytest.raises(Unprocessable, match="erased"):
        decide_inbound(actor="api:test", customer=erased, channel="branch")


# --- events -------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", REFERENCES)
def test_an_event_naming_an_erased_customer_is_kept_as_erased_without_the_identifier(
    erased, channel_api, django_capture_on_commit_callbacks, reference
):
    ref = references(erased)[reference]
    named = ref.get("external_id") or ref["identifier"]["value"]
    payload = {"amount": 42.5, "note": f"card of {named}", "seen": [named]}
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = channel_api.post("/api/v1/events/", event(ref, payload=payload))
    assert response.status_code == 202
    assert response.json() == {"event_id": "E-ERASED", "status": "erased", "duplicate": False}
    assert callbacks == []  # never queued for processing
    stored = Event.objects.get(event_id="E-ERASED")
    assert stored.status == "erased" and stored.processed_at is None
    assert not Decision.objects.filter(event=stored).exists()
    if reference == "erased_id":
        # the erased id is the pseudonym, not personal data: kept, and the row is known
        assert stored.customer_ref == ref and stored.customer == erased
    else:
        kept = str(stored.customer_ref) + str(stored.payload)
        assert named not in kept and named.lower() not in kept.lower()
        assert REDACTED in str(stored.customer_ref)
        assert stored.payload == {
            "amount": 42.5,
            "note": f"card of {REDACTED}",
            "seen": [REDACTED],
        }
    if "identifier" in ref:
        assert stored.customer_ref["identifier"]["type"] == ref["identifier"]["type"]
        assert stored.customer is None  # a tombstone keeps no link to the row


def test_an_erased_event_sent_again_is_a_duplicate(erased, channel_api):
    body = event({"identifier": {"type": "email", "value": EMAIL}})
    channel_api.post("/api/v1/events/", body)
    again = channel_api.post("/api/v1/events/", body)
    assert again.status_code == 202
    assert again.json() == {"event_id": "E-ERASED", "status": "erased", "duplicate": True}
    assert Event.objects.filter(event_id="E-ERASED").count() == 1


def test_an_erased_event_is_not_picked_up_by_a_later_identity_link(
    erased, channel_api, django_capture_on_commit_callbacks
):
    channel_api.post("/api/v1/events/", event({"identifier": {"type": "phone", "value": PHONE}}))
    newcomer = CustomerFactory(external_id="C124")
    with django_capture_on_commit_callbacks(execute=True):
        linked = channel_api.post(
            "/api/v1/customers/C124/identities/", {"type": "phone", "value": PHONE}
        )
    assert linked.status_code == 201 and linked.json()["resolved_events"] == 0
    assert Event.objects.get(event_id="E-ERASED").customer_id is None
    # a recycled number now names the new customer: the live link wins over the tombstone
    response = channel_api.post(
        "/api/v1/events/",
        event({"identifier": {"type": "phone", "value": PHONE}}, event_id="E-NEW"),
    )
    assert response.json()["status"] == "accepted"
    assert Event.objects.get(event_id="E-NEW").customer == newcomer
    decision = channel_api.post(
        "/api/v1/decisions/",
        {"customer": {"identifier": {"type": "phone", "value": PHONE}}, "channel": "web"},
    )
    assert decision.status_code == 200 and decision.json()["customer"] == "C124"


# --- erasure writes the tombstones and cleans what it already holds -------------------------


def test_erasure_tombstones_every_former_identifier_by_keyed_hash_only(erased):
    from customers.identity import identifier_hmac

    rows = set(ErasedIdentifier.objects.values_list("identifier_type", "value_hmac"))
    assert rows == {
        ("card_token", identifier_hmac("card_token", CARD)),
        ("device_id", identifier_hmac("device_id", "dev-erased")),
        ("email", identifier_hmac("email", EMAIL)),
        ("phone", identifier_hmac("phone", PHONE)),
    }
    stored = str(list(ErasedIdentifier.objects.values()))
    assert not any(value in stored for value in (CARD, "dev-erased", EMAIL, PHONE))


def test_erasure_takes_former_identifiers_out_of_events_kept_unresolved(
    bank, customer, compliance_api, channel_api
):
    Customer.objects.filter(pk=customer.pk).update(email=EMAIL)
    # named by the profile's e-mail, which no identity link carries: kept unresolved
    response = channel_api.post(
        "/api/v1/events/",
        event({"identifier": {"type": "email", "value": EMAIL}}, payload={"to": EMAIL}),
    )
    assert response.json()["status"] == "unresolved"
    bystander = channel_api.post(
        "/api/v1/events/",
        event({"external_id": "SOMEONE-ELSE"}, event_id="E-OTHER"),
    )
    assert bystander.json()["status"] == "unresolved"

    compliance_api.delete("/api/v1/customers/C123/")

    stored = Event.objects.get(event_id="E-ERASED")
    assert stored.status == "erased"
    assert stored.customer_ref == {"identifier": {"type": "email", "value": REDACTED}}
    assert stored.payload == {"to": REDACTED}
    assert Event.objects.get(event_id="E-OTHER").status == "unresolved"  # untouched


def test_erasure_stops_the_customers_own_unprocessed_events(
    bank, customer, compliance_api, channel_api
):
    # stored while the customer was known, not processed yet (on_commit never ran here)
    channel_api.post("/api/v1/events/", event({"external_id": "C123"}, payload={"x": "C123"}))
    assert Event.objects.get(event_id="E-ERASED").status == "accepted"
    compliance_api.delete("/api/v1/customers/C123/")
    stored = Event.objects.get(event_id="E-ERASED")
    assert stored.status == "erased" and stored.customer_ref == {"erased": True}
    assert stored.payload == {"x": REDACTED}


def test_a_response_naming_an_erased_customer_is_422(erased, channel_api):
    response = channel_api.post(
        "/api/v1/responses/",
        {
            "response_id": "R-ERASED",
            "customer": {"identifier": {"type": "card_token", "value": CARD}},
            "offer_code": "FUEL_CARD_CASHBACK",
            "outcome": "click",
            "occurred_at": "2026-01-05T10:00:00+01:00",
            "channel": "web",
        },
    )
    assert response.status_code == 422
    assert "erased" in str(error_of(response)["fields"])


@pytest.mark.django_db
def test_an_event_task_queued_before_erasure_decides_nothing(bank, customer):
    from django.utils import timezone

    from customers.choices import EventStatus
    from decisioning.signals.process import event_process

    event = Event.objects.create(
        event_id="evt-queued-before-erasure",
        type="payment_failed",
        occurred_at=timezone.now(),
        customer=customer,
        status=EventStatus.ERASED,
    )
    assert event_process(event_pk=event.pk) == []
    assert not Decision.objects.filter(event=event).exists()
