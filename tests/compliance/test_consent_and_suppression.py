"""Consent, do-not-contact and suppression: the single source the engine and the
pre-send gate read."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from compliance.choices import ConsentStatus
from compliance.models import Consent, DoNotContact
from compliance.selectors import (
    active_suppressions,
    active_suppressions_for_customers,
    consents_for_customer,
    contact_permission,
    is_do_not_contact,
)
from compliance.services import (
    consent_set,
    consents_revoke_all,
    do_not_contact_clear,
    do_not_contact_set,
    suppression_add,
    suppression_lift,
)
from core.exceptions import Conflict, Unprocessable, ValidationFailed
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now


def records(kind: str, customer):
    return AuditRecord.objects.filter(kind=kind, customer_ref=customer.pseudonym).order_by("seq")


def assert_no_pii(record: AuditRecord, customer) -> None:
    text = str(
        [record.object_repr, record.data, record.customer_ref, record.object_id, record.actor]
    )
    for value in (
        customer.external_id,
        customer.first_name,
        customer.last_name,
        customer.email,
        customer.phone,
    ):
        assert value not in text


def test_consent_grant_is_recorded_and_audited_by_pseudonym():
    customer = CustomerFactory()
    captured = NOW() - datetime.timedelta(minutes=1)
    consent = consent_set(
        actor="api:sms-gateway",
        customer=customer,
        channel="sms",
        status="granted",
        source="app_settings",
        captured_at=captured,
    )
    assert (consent.channel, consent.status, consent.source, consent.captured_at) == (
        "sms",
        "granted",
        "app_settings",
        captured,
    )
    record = records(AuditKind.CONSENT, customer).get()
    assert (record.action, record.actor, record.channel) == (
        "consent_granted",
        "api:sms-gateway",
        "sms",
    )
    assert record.customer_ref == customer.pseudonym
    assert record.data["previous_status"] is None
    assert_no_pii(record, customer)


def test_the_latest_capture_wins_and_an_older_change_is_ignored():
    customer = CustomerFactory()
    now = NOW()
    consent_set(
        actor="a:x",
        customer=customer,
        channel="email",
        status="revoked",
        source="web",
        captured_at=now,
    )
    consent = consent_set(
        actor="a:x",
        customer=customer,
        channel="email",
        status="granted",
        source="batch",
        captured_at=now - datetime.timedelta(days=1),
    )
    assert consent.status == ConsentStatus.REVOKED
    assert [r.action for r in records(AuditKind.CONSENT, customer)] == [
        "consent_revoked",
        "consent_stale_ignored",
    ]


def test_repeating_the_same_consent_changes_nothing():
    customer = CustomerFactory()
    at = NOW()
    for _ in range(2):
        consent_set(
            actor="a:x",
            customer=customer,
            channel="push",
            status="granted",
            source="s",
            captured_at=at,
        )
    assert Consent.objects.filter(customer=customer).count() == 1
    assert records(AuditKind.CONSENT, customer).count() == 1


def test_consent_needs_a_known_channel_status_and_an_aware_past_time():
    customer = CustomerFactory()
    with pytest.raises(ValidationFailed) as error:
        consent_set(
            actor="a:x",
            customer=customer,
            channel="fax",
            status="maybe",
            source="",
            captured_at=NOW(),
        )
    assert set(error.value.fields) == {"channel", "status"}
    with pytest.raises(ValidationFailed, match="offset"):
        consent_set(
            actor="a:x",
            customer=customer,
            channel="sms",
            status="granted",
            source="",
            captured_at=datetime.datetime(2026, 1, 1),
        )
    with pytest.raises(ValidationFailed, match="future"):
        consent_set(
            actor="a:x",
            customer=customer,
            channel="sms",
            status="granted",
            source="",
            captured_at=NOW() + datetime.timedelta(hours=1),
        )


def test_the_global_opt_out_is_the_all_channel():
    customer = CustomerFactory()
    consent_set(
        actor="a:x",
        customer=customer,
        channel="sms",
        status="granted",
        source="s",
        captured_at=NOW(),
    )
    consent_set(
        actor="a:x",
        customer=customer,
        channel="all",
        status="revoked",
        source="s",
        captured_at=NOW(),
    )
    permission = contact_permission(customer=customer)
    assert permission.global_opt_out
    assert not permission.marketing_allowed_on("sms", outbound=True)
    assert consents_for_customer(customer) == {"sms": "granted", "all": "revoked"}


def test_outbound_channels_need_a_grant_inbound_ones_only_no_revoke():
    customer = CustomerFactory()
    consent_set(
        actor="a:x",
        customer=customer,
        channel="web",
        status="revoked",
        source="s",
        captured_at=NOW(),
    )
    permission = contact_permission(customer=customer)
    assert not permission.marketing_allowed_on("email", outbound=True)
    assert permission.marketing_allowed_on("branch", outbound=False)
    assert not permission.marketing_allowed_on("web", outbound=False)


def test_an_erased_customer_cannot_be_granted_consent():
    customer = CustomerFactory(erased_at=NOW())
    with pytest.raises(Unprocessable):
        consent_set(
            actor="a:x",
            customer=customer,
            channel="sms",
            status="granted",
            source="s",
            captured_at=NOW(),
        )


def test_revoke_all_revokes_every_recorded_channel_and_the_global_opt_in():
    customer = CustomerFactory()
    for channel in ("sms", "email"):
        consent_set(
            actor="a:x",
            customer=customer,
            channel=channel,
            status="granted",
            source="s",
            captured_at=NOW() - datetime.timedelta(minutes=5),
        )
    assert consents_revoke_all(actor="a:x", customer=customer, source="erasure") == 3
    assert consents_for_customer(customer) == {
        "sms": "revoked",
        "email": "revoked",
        "all": "revoked",
    }


def test_do_not_contact_is_set_updated_and_cleared_with_audit():
    customer = CustomerFactory()
    entry = do_not_contact_set(
        actor="user:agent", customer=customer, reason="Customer asked by phone"
    )
    assert is_do_not_contact(customer)
    assert entry.created_by == "user:agent"
    do_not_contact_set(actor="user:agent", customer=customer, reason="Confirmed in writing")
    assert DoNotContact.objects.get(customer=customer).reason == "Confirmed in writing"
    assert do_not_contact_clear(
        actor="user:agent", customer=customer, reason="Customer opted back in"
    )
    assert not do_not_contact_clear(actor="user:agent", customer=customer, reason="again")
    assert not contact_permission(customer=customer).do_not_contact
    actions = [r.action for r in records(AuditKind.SUPPRESSION, customer)]
    assert actions == ["do_not_contact_set", "do_not_contact_updated", "do_not_contact_cleared"]
    assert all(
        r.customer_ref == customer.pseudonym for r in records(AuditKind.SUPPRESSION, customer)
    )
    with pytest.raises(ValidationFailed):
        do_not_contact_set(actor="user:agent", customer=customer, reason="")


def test_suppressions_are_active_between_creation_and_until():
    customer = CustomerFactory()
    until = NOW() + datetime.timedelta(days=30)
    product = suppression_add(
        actor="system:responses",
        customer=customer,
        scope="product",
        value="GOLD_CARD",
        until=until,
        reason="cooldown_after_decline",
    )
    forever = suppression_add(
        actor="user:agent", customer=customer, scope="channel", value="sms", reason="complaint"
    )
    assert list(active_suppressions(customer=customer)) == [product, forever]
    assert list(
        active_suppressions(customer=customer, at=until + datetime.timedelta(seconds=1))
    ) == [forever]
    assert (
        list(
            active_suppressions(
                customer=customer, at=product.created_at - datetime.timedelta(seconds=1)
            )
        )
        == []
    )
    assert active_suppressions_for_customers([customer.pk]) == {customer.pk: [product, forever]}
    record = records(AuditKind.SUPPRESSION, customer).first()
    assert (record.action, record.customer_ref) == ("suppression_added", customer.pseudonym)
    assert record.data["scope"] == "product" and record.data["value"] == "GOLD_CARD"


def test_suppression_scope_and_value_are_validated():
    customer = CustomerFactory()
    cases = [
        dict(scope="planet", value="x"),
        dict(scope="family", value=""),
        dict(scope="all", value="cards"),
        dict(scope="channel", value="fax"),
    ]
    for case in cases:
        with pytest.raises(ValidationFailed):
            suppression_add(actor="a:x", customer=customer, reason="r", **case)
    with pytest.raises(ValidationFailed, match="future"):
        suppression_add(
            actor="a:x",
            customer=customer,
            scope="all",
            reason="r",
            until=NOW() - datetime.timedelta(days=1),
        )


def test_lifting_a_suppression_ends_it_now_and_keeps_it_as_history():
    customer = CustomerFactory()
    entry = suppression_add(
        actor="a:x", customer=customer, scope="family", value="loans", reason="hardship"
    )
    lifted = suppression_lift(actor="user:agent", entry=entry, reason="Resolved")
    assert lifted.until is not None and lifted.until <= NOW()
    assert list(active_suppressions(customer=customer)) == []
    assert records(AuditKind.SUPPRESSION, customer).last().action == "suppression_lifted"
    assert suppression_lift(actor="user:agent", entry=entry, reason="again").until == lifted.until


def test_the_erasure_suppression_cannot_be_lifted():
    customer = CustomerFactory()
    entry = suppression_add(actor="a:x", customer=customer, scope="all", reason="erased")
    with pytest.raises(Conflict):
        suppression_lift(actor="user:agent", entry=entry, reason="oops")
