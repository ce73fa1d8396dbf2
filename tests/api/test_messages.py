"""Leasing outbound messages through the pre-send gate, expired leases, acks."""

from __future__ import annotations

import datetime
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns.models import ContactPolicy
from compliance.choices import ApprovalStatus
from compliance.models import ApprovalRequest, Consent, DoNotContact, SuppressionEntry
from customers.models import Holding, IdentityLink
from decisioning.decisions.snapshots import current_snapshot
from decisioning.models import Contact, Decision, Message
from ledger.models import AuditRecord
from tests.api.conftest import error_of
from tests.api.outbound import queue_message
from tests.factories import ConsentFactory, CustomerFactory

pytestmark = pytest.mark.django_db

LEASE = "/api/v1/channels/{}/messages/lease/"


@pytest.fixture(autouse=True)
def no_quiet_hours(db):
    """Tests run at any hour; quiet hours get their own test."""
    ContactPolicy.objects.filter(is_active=True).update(quiet_channels=[])


@pytest.fixture
def sales(bank, customer):
    """A due SMS fuel-card offer (a sales offer) for C123, who consented to SMS."""
    return queue_message(customer, bank.fuel_card, bank.fuel_campaign)


def lease(api, channel="sms", **body):
    return api.post(LEASE.format(channel), {"max": 100, "lease_seconds": 60, **body})


def status_of(message):
    message.refresh_from_db()
    return message.status, message.cancel_reason


# --- leasing -------------------------------------------------------------------------------


def test_a_due_message_is_leased_with_contact_content_and_an_audit_record(
    sales, customer, channel_api
):
    response = lease(channel_api)
    assert response.status_code == 200
    [item] = response.json()["messages"]
    assert item["message_id"] == str(sales.pk)
    assert item["customer"] == "C123"
    assert item["contact"] == {"phone": customer.phone}
    assert item["offer_code"] == "FUEL_CARD_CASHBACK"
    assert item["content_version"] == 1
    assert set(item["content"]) == {"headline", "body", "call_to_action", "disclosure"}
    assert item["decision_id"] == str(sales.decision_id)
    assert item["lease_expires_at"]
    sales.refresh_from_db()
    assert sales.status == "leased" and sales.lease_count == 1
    record = AuditRecord.objects.get(
        kind="offer_released", action="message_leased", object_id=str(sales.pk)
    )
    assert record.customer_ref == customer.pseudonym
    assert customer.phone not in str(record.data) and "C123" not in str(record.data)
    data = record.data
    assert data["offer_code"] == "FUEL_CARD_CASHBACK"
    assert data["content_version"] == 1 and len(data["content_hash"]) == 64
    assert data["campaign"] == "FUEL_TRIGGER"
    assert data["decision_id"] == str(sales.decision_id)
    assert data["model_version"] == "7" and data["policy_version"] == 1
    assert data["rationale"] == ["because"]
    assert "triggering_event" in data


def test_a_leased_message_is_not_leased_twice(sales, channel_api):
    assert len(lease(channel_api).json()["messages"]) == 1
    assert lease(channel_api).json()["messages"] == []


def test_a_message_whose_lease_expired_is_leased_again(sales, channel_api):
    lease(channel_api)
    Message.objects.filter(pk=sales.pk).update(
        lease_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    [item] = lease(channel_api).json()["messages"]
    assert item["message_id"] == str(sales.pk)
    sales.refresh_from_db()
    assert sales.lease_count == 2


def test_a_message_not_yet_due_is_not_leased(bank, customer, channel_api):
    queue_message(
        customer,
        bank.fuel_card,
        bank.fuel_campaign,
        deliver_after=timezone.now() + datetime.timedelta(hours=1),
    )
    assert lease(channel_api).json()["messages"] == []


def test_lease_honours_max_and_the_channel(bank, channel_api):
    for _ in range(3):
        person = CustomerFactory()
        ConsentFactory(customer=person, channel="sms")
        queue_message(person, bank.fuel_card, bank.fuel_campaign)
    email_person = CustomerFactory()
    ConsentFactory(customer=email_person, channel="email")
    queue_message(email_person, bank.fuel_card, bank.fuel_campaign, channel="email")
    assert len(lease(channel_api, max=2).json()["messages"]) == 2
    assert len(lease(channel_api).json()["messages"]) == 1
    [email] = lease(channel_api, channel="email").json()["messages"]
    assert email["contact"] == {"email": email_person.email}


def test_what_the_gate_cancels_does_not_use_up_max(bank, channel_api):
    for consented in (False, False, True, True):
        person = CustomerFactory()
        if consented:
            ConsentFactory(customer=person, channel="sms")
        queue_message(person, bank.fuel_card, bank.fuel_campaign)
    assert len(lease(channel_api, max=2).json()["messages"]) == 2
    assert Message.objects.filter(status="cancelled", cancel_reason="no_consent").count() == 2


def _revoke_sms(customer):
    Consent.objects.filter(customer=customer, channel="sms").update(status="revoked")


def _opt_out(customer):
    ConsentFactory(customer=customer, channel="all", status="revoked")


def _dnc(customer):
    DoNotContact.objects.create(customer=customer, reason="asked", created_by="test")


def _erase(customer):
    type(customer).objects.filter(pk=customer.pk).update(erased_at=timezone.now())


def _suppress(scope, value):
    def apply(customer):
        SuppressionEntry.objects.create(
            customer=customer, scope=scope, value=value, reason="test", created_by="test"
        )

    return apply


def _hold_family(customer):
    Holding.objects.create(customer=customer, product_code="FUEL_CARD")


def _declined(customer):
    decision = Decision.objects.create(
        customer=customer, mode="inbound", created_at=timezone.now(), snapshot_version="x"
    )
    from offers.models import Offer

    offer = Offer.objects.get(code="FUEL_CARD_CASHBACK")
    Contact.objects.create(
        customer=customer,
        decision=decision,
        offer=offer,
        product_code="FUEL_CARD",
        family="cards",
        kind="sales",
        channel="branch",
        released_at=timezone.now() - datetime.timedelta(days=2),
        outcome="decline",
        outcome_at=timezone.now() - datetime.timedelta(days=1),
    )


def _no_phone(customer):
    type(customer).objects.filter(pk=customer.pk).update(phone="")


def _campaign_paused(customer):
    from campaigns.models import Campaign

    Campaign.objects.filter(code="FUEL_TRIGGER").update(status="paused")


def _offer_paused(customer):
    from offers.models import Offer

    Offer.objects.filter(code="FUEL_CARD_CASHBACK").update(status="paused")


def _approval_revoked(customer):
    ApprovalRequest.objects.update(status=ApprovalStatus.WITHDRAWN)


def _content_altered(customer):
    from offers.models import OfferContent

    OfferContent.objects.filter(channel="sms").update(body="Something else entirely")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_revoke_sms, "no_consent"),
        (_opt_out, "global_opt_out"),
        (_dnc, "do_not_contact"),
        (_erase, "erased"),
        (_suppress("all", ""), "suppressed"),
        (_suppress("family", "cards"), "suppressed"),
        (_suppress("product", "FUEL_CARD"), "suppressed"),
        (_suppress("offer", "FUEL_CARD_CASHBACK"), "suppressed"),
        (_suppress("channel", "sms"), "channel_suppressed"),
        (_hold_family, "holds_product"),
        (_declined, "cooldown_after_decline"),
        (_no_phone, "no_contact"),
        (_campaign_paused, "campaign_not_running"),
        (_offer_paused, "offer_not_active"),
        (_approval_revoked, "content_not_approved"),
        (_content_altered, "content_not_approved"),
    ],
)
def test_the_pre_send_gate_cancels_instead_of_handing_out(
    sales, customer, channel_api, change, reason
):
    change(customer)
    assert lease(channel_api).json()["messages"] == []
    assert status_of(sales) == ("cancelled", reason)
    assert Contact.objects.get(message=sales).cancelled is True
    record = AuditRecord.objects.get(
        kind="message", action="message_cancelled", object_id=str(sales.pk)
    )
    assert record.data["reason"] == reason
    assert not AuditRecord.objects.filter(kind="offer_released", object_id=str(sales.pk)).exists()


def test_an_expired_suppression_does_not_block(sales, customer, channel_api):
    SuppressionEntry.objects.create(
        customer=customer,
        scope="all",
        until=timezone.now() - datetime.timedelta(minutes=1),
        reason="old",
        created_by="test",
    )
    assert len(lease(channel_api).json()["messages"]) == 1


def test_service_actions_are_exempt_from_marketing_consent(bank, channel_api):
    person = CustomerFactory()  # no consent at all, do-not-contact set
    DoNotContact.objects.create(customer=person, reason="asked", created_by="test")
    message = queue_message(person, bank.payment_help, bank.hardship_campaign)
    assert [m["message_id"] for m in lease(channel_api).json()["messages"]] == [str(message.pk)]


def test_push_goes_to_the_newest_device_and_without_one_is_cancelled(bank, channel_api):
    with_device, without = CustomerFactory(), CustomerFactory()
    for person in (with_device, without):
        ConsentFactory(customer=person, channel="push")
    IdentityLink.objects.create(customer=with_device, type="device_id", value="dev-old")
    IdentityLink.objects.create(customer=with_device, type="device_id", value="dev-new")
    good = queue_message(with_device, bank.fuel_card, bank.fuel_campaign, channel="push")
    bad = queue_message(without, bank.fuel_card, bank.fuel_campaign, channel="push")
    [item] = lease(channel_api, channel="push").json()["messages"]
    assert item["message_id"] == str(good.pk)
    assert item["contact"] == {"device_id": "dev-new"}
    assert status_of(bad) == ("cancelled", "no_contact")


def test_quiet_hours_defer_to_their_end_in_the_customers_time_zone(sales, customer, channel_api):
    local = timezone.now().astimezone(ZoneInfo(customer.time_zone))
    start = (local - datetime.timedelta(hours=1)).time().replace(microsecond=0)
    end = (local + datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    ContactPolicy.objects.filter(is_active=True).update(
        quiet_channels=["sms", "push"], quiet_start=start, quiet_end=end
    )
    assert lease(channel_api).json()["messages"] == []
    sales.refresh_from_db()
    assert sales.status == "queued"
    deliver_local = sales.deliver_after.astimezone(ZoneInfo(customer.time_zone))
    assert deliver_local.time() == end
    assert sales.deliver_after > timezone.now()
    deferred = AuditRecord.objects.get(action="message_deferred", object_id=str(sales.pk))
    assert deferred.data["reason"] == "quiet_hours"


@pytest.mark.parametrize(
    ("channel", "body", "status"),
    [
        ("pigeon", {}, 404),
        ("branch", {}, 404),
        ("sms", {"max": 0}, 400),
        ("sms", {"max": 501}, 400),
        ("sms", {"lease_seconds": 0}, 400),
        ("sms", {"lease_seconds": 3601}, 400),
        ("sms", {"max": "ten"}, 400),
    ],
)
def test_invalid_lease_requests(channel_api, channel, body, status):
    response = channel_api.post(LEASE.format(channel), body)
    assert response.status_code == status
    error_of(response)


def test_a_channel_client_leases_only_its_channels(sales, make_api):
    response = lease(make_api("channel", ["email"]))
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert status_of(sales) == ("queued", "")


def test_lease_stays_within_a_query_budget_whatever_the_batch(
    bank, channel_api, django_assert_max_num_queries
):
    for _ in range(25):
        person = CustomerFactory()
        ConsentFactory(customer=person, channel="sms")
        queue_message(person, bank.fuel_card, bank.fuel_campaign)
    blocked = CustomerFactory()
    queue_message(blocked, bank.fuel_card, bank.fuel_campaign)  # no consent: cancelled
    current_snapshot()  # the serving process keeps it; building it is not the lease's cost
    with django_assert_max_num_queries(20):
        response = lease(channel_api)
    assert len(response.json()["messages"]) == 25


# --- acks ----------------------------------------------------------------------------------


def ack(api, message, **body):
    return api.post(f"/api/v1/messages/{message.pk}/ack/", {"status": "delivered", **body})


def test_an_ack_records_delivery_and_is_audited(sales, channel_api):
    lease(channel_api)
    response = ack(channel_api, sales, provider_ref="twilio-1")
    assert response.status_code == 200
    assert response.json() == {
        "message_id": str(sales.pk),
        "status": "delivered",
        "provider_ref": "twilio-1",
        "duplicate": False,
    }
    sales.refresh_from_db()
    assert sales.status == "delivered" and sales.provider_ref == "twilio-1"
    delivered = AuditRecord.objects.filter(action="message_delivered", object_id=str(sales.pk))
    assert delivered.count() == 1


def test_repeating_an_ack_is_harmless(sales, channel_api):
    lease(channel_api)
    ack(channel_api, sales)
    again = ack(channel_api, sales)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert (
        AuditRecord.objects.filter(action="message_delivered", object_id=str(sales.pk)).count() == 1
    )


def test_a_failed_delivery_stops_counting_against_the_caps(sales, channel_api):
    lease(channel_api)
    response = ack(channel_api, sales, status="failed", error="unreachable")
    assert response.status_code == 200
    sales.refresh_from_db()
    assert sales.status == "failed" and sales.error == "unreachable"
    assert Contact.objects.get(message=sales).cancelled is True


def test_acking_the_other_status_after_an_ack_is_409(sales, channel_api):
    lease(channel_api)
    ack(channel_api, sales)
    response = ack(channel_api, sales, status="failed")
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"


def test_acking_a_message_that_was_never_leased_is_409(sales, channel_api):
    assert ack(channel_api, sales).status_code == 409


def test_acking_a_cancelled_message_is_409(sales, customer, channel_api):
    lease(channel_api)
    channel_api.put(
        "/api/v1/customers/C123/consents/sms/",
        {"status": "revoked", "source": "sms STOP", "captured_at": timezone.now().isoformat()},
    )
    assert ack(channel_api, sales).status_code == 409


def test_acking_an_unknown_message_is_404(channel_api):
    response = channel_api.post(f"/api/v1/messages/{uuid.uuid4()}/ack/", {"status": "delivered"})
    assert response.status_code == 404
    assert (
        channel_api.post("/api/v1/messages/nope/ack/", {"status": "delivered"}).status_code == 404
    )


def test_an_invalid_ack_is_400(sales, channel_api):
    lease(channel_api)
    assert ack(channel_api, sales, status="read").status_code == 400
    assert ack(channel_api, sales, provider_ref="x" * 201).status_code == 400


def test_a_channel_client_acks_only_its_channels_messages(sales, channel_api, make_api):
    lease(channel_api)
    assert ack(make_api("channel", ["email"]), sales).status_code == 403
