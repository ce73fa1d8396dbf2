"""Customer endpoints: profile, identities, consents, erasure."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from compliance.models import Consent, ErasureRequest, SuppressionEntry
from customers.models import Customer, Holding, IdentityLink
from decisioning.models import Contact, Message
from ledger.models import AuditRecord
from tests.api.conftest import error_of
from tests.api.test_messages import no_quiet_hours, queue_message  # noqa: F401 (fixture)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PROFILE = {
    "first_name": "Ana",
    "last_name": "Silva",
    "email": "ana@mail.example",
    "phone": "+351910000000",
    "birth_date": "1985-04-12",
    "customer_since": "2015-06-01",
    "region": "Lisbon",
    "branch_code": "LIS01",
    "time_zone": "Europe/Lisbon",
    "risk_band": "low",
    "income_band": "middle",
    "attributes": {"segment": "mass", "salary": 2500},
    "holdings": ["CURRENT_ACCOUNT", "FUEL_CARD"],
}


def test_put_creates_then_updates_a_profile(admin_api):
    # The answer is the stored profile as the caller may see it (test_field_matrix.py):
    # an admin sees all of it.
    created = admin_api.put("/api/v1/customers/C900/", PROFILE)
    assert created.status_code == 201
    body = created.json()
    assert body["external_id"] == "C900" and body["email"] == "ana@mail.example"
    assert body["holdings"] == ["CURRENT_ACCOUNT", "FUEL_CARD"]
    assert body["attributes"] == {"segment": "mass", "salary": 2500}
    updated = admin_api.put(
        "/api/v1/customers/C900/", {"region": "Porto", "holdings": ["CURRENT_ACCOUNT"]}
    )
    assert updated.status_code == 200
    body = updated.json()
    assert body["region"] == "Porto" and body["first_name"] == "Ana"  # missing: unchanged
    assert body["holdings"] == ["CURRENT_ACCOUNT"]
    assert Holding.objects.filter(product_code="FUEL_CARD", closed_at__isnull=False).exists()
    assert AuditRecord.objects.filter(kind="customer", action="customer_created").exists()


def test_put_with_nothing_uses_the_banks_time_zone(channel_api, settings):
    body = channel_api.put("/api/v1/customers/C901/", {}).json()
    assert body["time_zone"] == settings.BANK_TIME_ZONE


@pytest.mark.parametrize(
    "change",
    [
        {"email": "not-an-email"},
        {"time_zone": "Mars/Olympus"},
        {"risk_band": "extreme"},
        {"birth_date": "12/04/1985"},
        {"attributes": ["a"]},
        {"holdings": "FUEL_CARD"},
        {"holdings": ["x" * 33]},
        {"first_name": "x" * 101},
    ],
)
def test_an_invalid_profile_is_400(channel_api, change):
    response = channel_api.put("/api/v1/customers/C902/", change)
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


@pytest.mark.parametrize("external_id", ["%20C1", "x" * 65, "erased:abc"])
def test_a_malformed_customer_id_is_400_on_put(channel_api, external_id):
    assert channel_api.put(f"/api/v1/customers/{external_id}/", {}).status_code == 400


def test_get_returns_profile_holdings_consents_and_open_suppressions(customer, compliance_api):
    Holding.objects.create(customer=customer, product_code="FUEL_CARD", source="core")
    SuppressionEntry.objects.create(
        customer=customer, scope="product", value="LOANS", reason="test", created_by="t"
    )
    SuppressionEntry.objects.create(
        customer=customer,
        scope="all",
        reason="old",
        created_by="t",
        until=timezone.now() - datetime.timedelta(days=1),
    )
    response = compliance_api.get("/api/v1/customers/C123/")
    assert response.status_code == 200
    body = response.json()
    assert body["external_id"] == "C123"
    assert body["holdings"] == [{"product_code": "FUEL_CARD", "opened_at": None, "source": "core"}]
    assert {c["channel"]: c["status"] for c in body["consents"]} == {
        "email": "granted",
        "push": "granted",
        "sms": "granted",
    }
    assert [(s["scope"], s["value"]) for s in body["suppressions"]] == [("product", "LOANS")]
    assert body["do_not_contact"] is False


def test_get_an_unknown_customer_is_404(compliance_api):
    response = compliance_api.get("/api/v1/customers/NOBODY/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_identities_are_linked_201_and_relinked_200(customer, channel_api):
    body = {"type": "device_id", "value": "dev-1"}
    first = channel_api.post("/api/v1/customers/C123/identities/", body)
    assert first.status_code == 201
    assert first.json()["method"] == "deterministic" and first.json()["confidence"] == 1.0
    again = channel_api.post(
        "/api/v1/customers/C123/identities/",
        {**body, "method": "probabilistic", "confidence": 0.95},
    )
    assert again.status_code == 200
    assert IdentityLink.objects.get().confidence == 0.95


def test_an_identifier_of_another_customer_is_409(customer, channel_api):
    other = CustomerFactory()
    IdentityLink.objects.create(customer=other, type="card_token", value="tok")
    response = channel_api.post(
        "/api/v1/customers/C123/identities/", {"type": "card_token", "value": "tok"}
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"type": "shoe", "value": "x"},
        {"type": "card_token", "value": ""},
        {"type": "card_token", "value": "x", "confidence": 1.5},
        {"type": "card_token", "value": "x", "method": "guess"},
    ],
)
def test_an_invalid_identity_is_400(customer, channel_api, body):
    assert channel_api.post("/api/v1/customers/C123/identities/", body).status_code == 400


def test_identities_of_an_unknown_customer_are_404(channel_api):
    response = channel_api.post(
        "/api/v1/customers/NOBODY/identities/", {"type": "card_token", "value": "x"}
    )
    assert response.status_code == 404


def consent(api, channel, status, external_id="C123", **extra):
    body = {"status": status, "source": "app settings", "captured_at": timezone.now().isoformat()}
    body.update(extra)
    return api.put(f"/api/v1/customers/{external_id}/consents/{channel}/", body)


def test_a_revoke_cancels_queued_and_leased_messages_of_that_channel_before_returning(
    bank, customer, channel_api
):
    queued = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    leased = queue_message(customer, bank.savings, bank.fuel_campaign)
    Message.objects.filter(pk=leased.pk).update(
        status="leased", lease_expires_at=timezone.now() + datetime.timedelta(minutes=5)
    )
    email = queue_message(customer, bank.fuel_card, bank.fuel_campaign, channel="email")
    response = consent(channel_api, "sms", "revoked")
    assert response.status_code == 200
    body = response.json()
    assert body["channel"] == "sms" and body["status"] == "revoked"
    assert body["cancelled_messages"] == 2
    for message in (queued, leased):
        message.refresh_from_db()
        assert message.status == "cancelled"
        assert Contact.objects.get(message=message).cancelled
    email.refresh_from_db()
    assert email.status == "queued"


def test_all_revoked_is_the_global_opt_out(bank, customer, channel_api):
    queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    queue_message(customer, bank.fuel_card, bank.fuel_campaign, channel="email")
    response = consent(channel_api, "all", "revoked")
    assert response.status_code == 200 and response.json()["cancelled_messages"] == 2
    assert Consent.objects.get(customer=customer, channel="all").status == "revoked"


def test_a_grant_is_recorded(customer, channel_api):
    response = consent(channel_api, "web", "granted")
    assert response.status_code == 200
    assert Consent.objects.get(customer=customer, channel="web").status == "granted"


def test_a_channel_client_revokes_anywhere_but_grants_only_its_channels(customer, make_api):
    app = make_api("channel", ["mobile_app"])
    assert consent(app, "sms", "revoked").status_code == 200
    assert consent(app, "sms", "granted").status_code == 403
    assert consent(app, "all", "granted").status_code == 403
    assert consent(app, "mobile_app", "granted").status_code == 200


@pytest.mark.parametrize(
    ("channel", "body", "status"),
    [
        ("pigeon", {}, 404),
        ("sms", {"status": "maybe"}, 400),
        ("sms", {"source": ""}, 400),
        ("sms", {"captured_at": "2026-01-01T00:00:00"}, 400),
        ("sms", {"captured_at": "2999-01-01T00:00:00Z"}, 400),  # in the future
    ],
)
def test_invalid_consent_changes(customer, channel_api, channel, body, status):
    response = consent(channel_api, channel, body.pop("status", "revoked"), **body)
    assert response.status_code == status
    error_of(response)


def test_consent_of_an_unknown_customer_is_404(channel_api):
    assert consent(channel_api, "sms", "revoked", external_id="NOBODY").status_code == 404


def test_delete_erases_the_customer_202_and_repeating_it_gives_the_same_erasure(
    bank, customer, compliance_api
):
    queued = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    IdentityLink.objects.create(customer=customer, type="card_token", value="tok")
    response = compliance_api.delete("/api/v1/customers/C123/")
    assert response.status_code == 202
    erasure_id = response.json()["erasure_id"]
    assert ErasureRequest.objects.get(pk=erasure_id).status == "completed"
    person = Customer.objects.get(pk=customer.pk)
    assert person.erased_at and not person.first_name and not person.email
    assert not IdentityLink.objects.filter(customer=customer).exists()
    queued.refresh_from_db()
    assert queued.status == "cancelled"
    assert SuppressionEntry.objects.filter(customer=customer, scope="all", until=None).exists()
    again = compliance_api.delete("/api/v1/customers/C123/")
    assert again.status_code == 202 and again.json() == {"erasure_id": erasure_id}
    assert compliance_api.get("/api/v1/customers/C123/").status_code == 404


def test_an_erased_customer_cannot_be_recreated(customer, compliance_api, channel_api):
    compliance_api.delete("/api/v1/customers/C123/")
    response = channel_api.put("/api/v1/customers/C123/", {"first_name": "Ana"})
    assert response.status_code == 409


def test_delete_an_unknown_customer_is_404(compliance_api):
    assert compliance_api.delete("/api/v1/customers/NOBODY/").status_code == 404
