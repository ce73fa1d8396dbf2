"""Send time keeps the engine's rulebook: hardship, identity, service actions, lease ids."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from campaigns.models import ContactPolicy
from customers.models import IdentityLink
from decisioning.models import Contact, Message, OwedAction
from ledger.models import AuditRecord
from tests.api.conftest import error_of
from tests.api.outbound import queue_message
from tests.factories import ConsentFactory, CustomerFactory

pytestmark = pytest.mark.django_db

LEASE = "/api/v1/channels/{}/messages/lease/"


@pytest.fixture(autouse=True)
def no_quiet_hours(db):
    ContactPolicy.objects.filter(is_active=True).update(quiet_channels=[])


def lease(api, channel="sms", **body):
    response = api.post(LEASE.format(channel), {"max": 100, "lease_seconds": 60, **body})
    assert response.status_code == 200, response.content
    return response.json()["messages"]


def status_of(message):
    message.refresh_from_db()
    return message.status, message.cancel_reason


def link(customer, value, *, method="deterministic", confidence=1.0, minutes_ago=0):
    made = IdentityLink.objects.create(
        customer=customer, type="device_id", value=value, method=method, confidence=confidence
    )
    IdentityLink.objects.filter(pk=made.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago)
    )
    return made


# --- one rulebook: what happened after queueing counts -------------------------------------


def test_a_credit_offer_queued_before_a_failed_payment_is_not_handed_out_after_it(
    bank, customer, channel_api
):
    credit = queue_message(customer, bank.fuel_card, bank.fuel_campaign, channel="email")
    response = channel_api.post(
        "/api/v1/events/",
        {
            "event_id": "E-PF-1",
            "type": "payment_failed",
            "occurred_at": timezone.now().isoformat(),
            "customer": {"external_id": customer.external_id},
            "payload": {},
        },
    )
    assert response.status_code == 202, response.content
    handed = lease(channel_api, "email")
    assert str(credit.pk) not in {m["message_id"] for m in handed}
    assert status_of(credit) == ("cancelled", "hardship_protection")


def test_an_offer_whose_eligibility_the_customer_no_longer_meets_is_cancelled(
    bank, customer, channel_api
):
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)  # "age >= 18"
    customer.birth_date = timezone.now().date().replace(year=timezone.now().year - 16)
    customer.save(update_fields=["birth_date"])
    assert lease(channel_api) == []
    assert status_of(message) == ("cancelled", "ineligible")


def test_a_paused_campaigns_message_is_cancelled(bank, customer, channel_api):
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    bank.fuel_campaign.status = "paused"
    bank.fuel_campaign.save(update_fields=["status"])
    from compliance.versioning import bump_catalog_version

    bump_catalog_version()
    assert lease(channel_api) == []
    assert status_of(message) == ("cancelled", "campaign_not_running")


def test_a_message_does_not_count_against_its_own_caps(bank, customer, channel_api):
    ContactPolicy.objects.filter(is_active=True).update(daily_cap=1, weekly_cap=1)
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    assert [m["message_id"] for m in lease(channel_api)] == [str(message.pk)]


def test_a_release_elsewhere_after_queueing_spends_the_budget(bank, customer, channel_api):
    ContactPolicy.objects.filter(is_active=True).update(daily_cap=1, weekly_cap=1)
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    queue_message(customer, bank.savings, bank.fuel_campaign, channel="email", status="delivered")
    assert lease(channel_api) == []
    assert status_of(message) == ("cancelled", "frequency_cap")


def test_of_two_equal_queued_messages_the_older_goes_and_the_newer_is_refused(
    bank, customer, channel_api
):
    older = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    newer = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    Message.objects.filter(pk=newer.pk).update(
        created_at=older.created_at + datetime.timedelta(seconds=1)
    )
    assert [m["message_id"] for m in lease(channel_api)] == [str(older.pk)]
    assert status_of(newer)[0] == "cancelled"  # the older spent its caps and cooldown


# --- identity at send time --------------------------------------------------------------------


def test_push_goes_to_the_deterministic_device_before_a_newer_probabilistic_one(
    bank, customer, channel_api
):
    known = link(customer, "dev-known", minutes_ago=60)
    link(customer, "dev-guess", method="probabilistic", confidence=0.5)
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign, channel="push")
    (handed,) = lease(channel_api, "push")
    assert handed["contact"] == {"device_id": "dev-known"}
    record = AuditRecord.objects.get(action="message_leased", object_id=str(message.pk))
    assert record.data["address"] == {
        "field": "device_id",
        "source": "identity_link",
        "link_id": known.pk,
        "method": "deterministic",
        "confidence": 1.0,
    }
    assert "dev-known" not in str(record.data)  # the ledger keeps provenance, never the value


def test_a_probabilistic_device_is_used_only_at_or_above_the_configured_confidence(
    bank, customer, channel_api, settings
):
    settings.IDENTITY_MIN_CONFIDENCE = 0.9
    weak = CustomerFactory()
    ConsentFactory(customer=weak, channel="push")
    link(weak, "dev-weak", method="probabilistic", confidence=0.5)
    strong = CustomerFactory()
    ConsentFactory(customer=strong, channel="push")
    strong_link = link(strong, "dev-strong", method="probabilistic", confidence=0.95)
    refused = queue_message(weak, bank.fuel_card, bank.fuel_campaign, channel="push")
    kept = queue_message(strong, bank.fuel_card, bank.fuel_campaign, channel="push")
    (handed,) = lease(channel_api, "push")
    assert handed["message_id"] == str(kept.pk)
    assert handed["contact"] == {"device_id": "dev-strong"}
    assert status_of(refused) == ("cancelled", "no_contact")
    record = AuditRecord.objects.get(action="message_leased", object_id=str(kept.pk))
    assert record.data["address"]["link_id"] == strong_link.pk
    assert record.data["address"]["method"] == "probabilistic"
    assert record.data["address"]["confidence"] == 0.95


# --- service actions are never lost ------------------------------------------------------------


def test_a_service_action_with_no_device_goes_to_the_next_reachable_channel(
    bank, customer, channel_api
):
    help_message = queue_message(
        customer, bank.payment_help, bank.hardship_campaign, channel="push"
    )
    assert lease(channel_api, "push") == []
    help_message.refresh_from_db()
    assert (help_message.channel, help_message.status) == ("sms", "queued")
    assert help_message.content.channel == "sms"
    assert Contact.objects.get(message=help_message).channel == "sms"
    rerouted = AuditRecord.objects.get(action="message_rerouted", object_id=str(help_message.pk))
    assert rerouted.data["from_channel"] == "push" and rerouted.data["to_channel"] == "sms"
    (handed,) = lease(channel_api, "sms")
    assert handed["message_id"] == str(help_message.pk)
    assert handed["contact"] == {"phone": customer.phone}


def test_a_service_action_no_outbound_channel_reaches_is_shown_on_the_next_inbound_visit(
    bank, channel_api
):
    unreachable = CustomerFactory(email="", phone="")
    help_message = queue_message(
        unreachable, bank.payment_help, bank.hardship_campaign, channel="push"
    )
    assert lease(channel_api, "push") == []
    assert status_of(help_message) == ("cancelled", "owed_inbound")
    owed = OwedAction.objects.get(message=help_message)
    assert owed.shown_at is None
    assert AuditRecord.objects.filter(
        action="service_action_owed", object_id=str(help_message.pk)
    ).exists()

    body = {"customer": {"external_id": unreachable.external_id}, "channel": "mobile_app"}
    first = channel_api.post("/api/v1/decisions/", body).json()
    shown = [o for o in first["offers"] if o["offer_code"] == "PAYMENT_HELP"]
    assert len(shown) == 1
    owed.refresh_from_db()
    assert str(owed.shown_decision_id) == first["decision_id"] and owed.shown_at is not None
    assert AuditRecord.objects.filter(action="owed_action_shown").count() == 1
    again = channel_api.post("/api/v1/decisions/", body).json()
    assert "PAYMENT_HELP" not in {o["offer_code"] for o in again["offers"]}


def test_a_sales_offer_with_no_address_is_cancelled_not_rerouted(bank, customer, channel_api):
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign, channel="push")
    assert lease(channel_api, "push") == []
    assert status_of(message) == ("cancelled", "no_contact")
    assert not OwedAction.objects.exists()


# --- leases that know their holder --------------------------------------------------------------


def expire(message):
    Message.objects.filter(pk=message.pk).update(
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )


def ack(api, message, lease_id, status="delivered"):
    body = {"status": status, "lease_id": lease_id}
    return api.post(f"/api/v1/messages/{message.pk}/ack/", body)


def test_each_lease_answer_names_its_lease(bank, customer, channel_api):
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    (first,) = lease(channel_api)
    expire(message)
    (second,) = lease(channel_api)
    assert first["lease_id"] != second["lease_id"]
    message.refresh_from_db()
    assert str(message.lease_id) == second["lease_id"]


def test_a_stale_holders_ack_is_refused_and_the_newer_holders_outcome_stands(
    bank, customer, channel_api
):
    message = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    (first,) = lease(channel_api)
    expire(message)
    (second,) = lease(channel_api)

    stale = ack(channel_api, message, first["lease_id"], status="failed")
    assert stale.status_code == 409
    assert error_of(stale)["fields"] == {"lease_id": ["not the message's current lease"]}
    assert status_of(message) == ("leased", "")
    assert not Contact.objects.get(message=message).cancelled

    current = ack(channel_api, message, second["lease_id"])
    assert current.status_code == 200 and current.json()["status"] == "delivered"
    late = ack(channel_api, message, first["lease_id"], status="failed")
    assert late.status_code == 409
    assert status_of(message) == ("delivered", "")
    assert not Contact.objects.get(message=message).cancelled


def test_the_served_schema_describes_lease_ids(channel_api):
    response = channel_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schemas = response.json()["components"]["schemas"]
    leased = schemas["LeasedMessage"]
    assert "lease_id" in leased["properties"] and "lease_id" in leased["required"]
    ack = schemas["AckInputRequest"] if "AckInputRequest" in schemas else schemas["AckInput"]
    assert ack["properties"]["lease_id"]["format"] == "uuid"
    assert "lease_id" not in ack.get("required", [])
