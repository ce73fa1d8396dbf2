"""Consent revokes and erasure reach the message queue, in one transaction
(``decisioning.customer_rights``)."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from compliance.choices import ErasureStatus
from compliance.models import Consent, ErasureRequest, SuppressionEntry
from compliance.selectors import audit_record_list, consents_for_customer
from compliance.services import consent_set
from core.exceptions import Conflict, ValidationFailed
from customers.models import Customer, Event, IdentityLink
from customers.services import customer_upsert
from decisioning.models import Contact, Decision, Message
from decisioning.rights.consent import consent_change, do_not_contact_change
from decisioning.rights.erasure import customer_erase
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from ledger.sealer import seal_pending
from ledger.verify import verify_ledger
from tests.factories import CustomerFactory, IdentityLinkFactory, OfferContentFactory, OfferFactory

pytestmark = pytest.mark.django_db


def queue(customer, *, channel="sms", status="queued", kind="sales") -> Message:
    """A decision, its outbound message and the contact it counts as, built directly."""
    now = timezone.now()
    offer = OfferFactory(kind=kind)
    content = OfferContentFactory(offer=offer, channel=channel)
    decision = Decision.objects.create(
        customer=customer, mode="event", channel=channel, created_at=now, snapshot_version="t"
    )
    message = Message.objects.create(
        decision=decision,
        customer=customer,
        offer=offer,
        content=content,
        channel=channel,
        status=status,
        deliver_after=now,
        created_at=now,
        lease_expires_at=now + datetime.timedelta(seconds=60) if status == "leased" else None,
        leased_by="api:sms-gateway" if status == "leased" else "",
    )
    Contact.objects.create(
        customer=customer,
        decision=decision,
        message=message,
        offer=offer,
        product_code=offer.product.code,
        family=offer.product.family,
        kind=kind,
        channel=channel,
        released_at=now,
    )
    return message


def state(message: Message) -> tuple[str, str, bool]:
    message.refresh_from_db()
    return message.status, message.cancel_reason, message.contact.cancelled


def test_revoked_sms_consent_cancels_queued_and_leased_sms_messages():
    customer = CustomerFactory()
    queued, leased = queue(customer, status="queued"), queue(customer, status="leased")
    email = queue(customer, channel="email")
    delivered = queue(customer, status="delivered")
    service = queue(customer, kind="service")
    someone_else = queue(CustomerFactory())

    change = consent_change(
        actor="api:sms-gateway",
        customer=customer,
        channel="sms",
        status="revoked",
        source="reply_stop",
        captured_at=timezone.now(),
    )

    assert change.cancelled_messages == 2
    assert change.consent.status == "revoked"
    assert state(queued) == ("cancelled", "consent_revoked", True)
    assert state(leased) == ("cancelled", "consent_revoked", True)
    assert state(email)[0] == "queued"
    assert state(delivered)[0] == "delivered"
    assert state(service)[0] == "queued"  # service actions are exempt from marketing consent
    assert state(someone_else)[0] == "queued"
    cancelled = AuditRecord.objects.filter(kind=AuditKind.MESSAGE, action="message_cancelled")
    assert sorted(r.object_id for r in cancelled) == sorted([str(queued.pk), str(leased.pk)])
    assert {r.customer_ref for r in cancelled} == {customer.pseudonym}
    assert {r.data["previous_status"] for r in cancelled} == {"queued", "leased"}


def test_revoke_and_cancellation_commit_or_roll_back_together():
    customer = CustomerFactory()
    message = queue(customer)
    with pytest.raises(RuntimeError), transaction.atomic():
        consent_change(
            actor="a:x",
            customer=customer,
            channel="sms",
            status="revoked",
            source="s",
            captured_at=timezone.now(),
        )
        raise RuntimeError("the request failed after the revoke")
    assert state(message)[0] == "queued"
    assert not Consent.objects.filter(customer=customer).exists()


def test_an_invalid_revoke_cancels_nothing():
    customer = CustomerFactory()
    message = queue(customer)
    with pytest.raises(ValidationFailed):
        consent_change(
            actor="a:x",
            customer=customer,
            channel="sms",
            status="revoked",
            source="s",
            captured_at=timezone.now() + datetime.timedelta(days=1),
        )
    assert state(message)[0] == "queued"


def test_the_global_opt_out_cancels_every_outbound_marketing_message():
    customer = CustomerFactory()
    messages = [queue(customer, channel=c) for c in ("sms", "email", "push")]
    service = queue(customer, channel="push", kind="service")
    change = consent_change(
        actor="a:x",
        customer=customer,
        channel="all",
        status="revoked",
        source="letter",
        captured_at=timezone.now(),
    )
    assert change.cancelled_messages == 3
    assert all(state(m)[0] == "cancelled" for m in messages)
    assert state(service)[0] == "queued"


def test_a_grant_cancels_nothing():
    customer = CustomerFactory()
    message = queue(customer)
    change = consent_change(
        actor="a:x",
        customer=customer,
        channel="sms",
        status="granted",
        source="s",
        captured_at=timezone.now(),
    )
    assert change.cancelled_messages == 0
    assert state(message)[0] == "queued"


def test_a_stale_revoke_leaves_the_newer_grant_and_the_queue_alone():
    customer = CustomerFactory()
    message = queue(customer)
    now = timezone.now()
    consent_set(
        actor="a:x", customer=customer, channel="sms", status="granted", source="s", captured_at=now
    )
    change = consent_change(
        actor="a:x",
        customer=customer,
        channel="sms",
        status="revoked",
        source="late batch",
        captured_at=now - datetime.timedelta(days=2),
    )
    assert change.consent.status == "granted"
    assert state(message)[0] == "queued"


def test_do_not_contact_cancels_pending_sales_messages():
    customer = CustomerFactory()
    sales, service = queue(customer), queue(customer, kind="service")
    change = do_not_contact_change(
        actor="user:agent", customer=customer, reason="Asked on the phone"
    )
    assert change.cancelled_messages == 1
    assert state(sales) == ("cancelled", "do_not_contact", True)
    assert state(service)[0] == "queued"
    actions = list(
        AuditRecord.objects.filter(customer_ref=customer.pseudonym)
        .order_by("seq")
        .values_list("kind", "action")
    )
    assert actions == [("suppression", "do_not_contact_set"), ("message", "message_cancelled")]


# --- erasure --------------------------------------------------------------------------------


@pytest.fixture
def erasable():
    customer = CustomerFactory(
        external_id="C-ERASE-ME",
        first_name="Maria",
        last_name="Sousa",
        email="maria@mail.example",
        phone="+351912345678",
        attributes={"salary": 3100, "nickname": "Mia"},
    )
    IdentityLinkFactory(customer=customer, type="email", value="maria@mail.example")
    IdentityLinkFactory(customer=customer, type="card_token", value="tok_maria")
    Event.objects.create(
        event_id="E-1",
        type="app_login",
        occurred_at=timezone.now(),
        customer=customer,
        customer_ref={"identifier": {"type": "card_token", "value": "tok_maria"}},
        status="processed",
        body_hash="h",
    )
    consent_set(
        actor="a:x",
        customer=customer,
        channel="sms",
        status="granted",
        source="s",
        captured_at=timezone.now() - datetime.timedelta(days=1),
    )
    return customer


def test_erasure_blanks_pii_removes_identities_and_suppresses_for_good(erasable):
    customer = erasable
    pseudonym = customer.pseudonym
    sales, service = queue(customer), queue(customer, channel="push", kind="service")

    request = customer_erase(actor="user:dpo", customer=customer)

    customer.refresh_from_db()
    assert customer.external_id == f"erased:{pseudonym}"
    assert customer.pseudonym == pseudonym
    assert (customer.first_name, customer.last_name, customer.email, customer.phone) == (
        "",
        "",
        "",
        "",
    )
    assert customer.birth_date is None and customer.attributes == {}
    assert customer.erased_at is not None
    assert not IdentityLink.objects.filter(customer=customer).exists()
    assert Event.objects.get(event_id="E-1").customer_ref == {"erased": True}
    assert set(consents_for_customer(customer).values()) == {"revoked"}
    assert "all" in consents_for_customer(customer)
    assert state(sales) == ("cancelled", "erased", True)
    assert state(service) == ("cancelled", "erased", True)  # nothing reaches an erased customer
    suppression = SuppressionEntry.objects.get(customer=customer, reason="erased")
    assert (suppression.scope, suppression.until) == ("all", None)
    assert request.status == ErasureStatus.COMPLETED
    assert request.customer_ref == pseudonym
    assert request.completed_at is not None
    assert request.summary["identities_removed"] == 2
    assert request.summary["messages_cancelled"] == 2
    erasure_record = AuditRecord.objects.get(kind=AuditKind.ERASURE)
    assert (erasure_record.action, erasure_record.customer_ref) == ("customer_erased", pseudonym)


def test_erasure_leaves_the_ledger_untouched_verifiable_and_free_of_pii(erasable):
    customer = erasable
    seal_pending()
    before = list(AuditRecord.objects.order_by("seq").values_list("seq", "record_hash"))

    customer_erase(actor="user:dpo", customer=customer)
    seal_pending()

    after = list(AuditRecord.objects.order_by("seq").values_list("seq", "record_hash"))
    assert after[: len(before)] == before
    report = verify_ledger()
    assert report.ok and report.unsealed_records == 0
    pii = (
        "C-ERASE-ME",
        "Maria",
        "Sousa",
        "maria@mail.example",
        "+351912345678",
        "tok_maria",
        "Mia",
    )
    for record in AuditRecord.objects.all():
        text = str(
            [record.actor, record.object_id, record.object_repr, record.customer_ref, record.data]
        )
        assert not any(value in text for value in pii), record
    # The regulator still finds the trail by the bank's old id.
    assert audit_record_list(external_id="C-ERASE-ME").filter(kind=AuditKind.ERASURE).exists()


def test_erasing_twice_returns_the_first_request(erasable):
    first = customer_erase(actor="user:dpo", customer=erasable)
    again = customer_erase(actor="user:dpo", customer=erasable)
    assert again.pk == first.pk
    assert ErasureRequest.objects.count() == 1


def test_a_re_put_of_an_erased_customer_is_recognised_and_refused(erasable):
    customer_erase(actor="user:dpo", customer=erasable)
    with pytest.raises(Conflict, match="erased"):
        customer_upsert(actor="api:web", external_id="C-ERASE-ME", profile={"first_name": "Maria"})
    assert Customer.objects.filter(first_name="Maria").count() == 0
