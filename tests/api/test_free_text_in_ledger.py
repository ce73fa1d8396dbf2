"""Free text a channel sends never lands in the append-only ledger (DESIGN rule 10).

For each of a consent ``source``, an ack's ``provider_ref`` / ``error`` and an override's
``reason``: after the call no audit record carries the text (its JSON searched), the
operational row does, and after erasure the operational row does not either.
"""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from compliance.models import Consent
from decisioning.models import Message, Override
from ledger.models import AuditRecord
from ledger.redaction import free_text_hmac
from tests.api.test_messages import lease, no_quiet_hours, queue_message  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

PHONE = "+351912345678"
EMAIL = "maria.sousa@mail.example"
NAME = "Maria Sousa"


def ledger_text() -> str:
    """Everything the ledger stores that a caller could have put text into."""
    rows = AuditRecord.objects.values_list("object_id", "object_repr", "actor", "data")
    return "\n".join(json.dumps(list(row), ensure_ascii=False) for row in rows)


def assert_not_in_ledger(*texts: str) -> None:
    stored = ledger_text()
    for text in texts:
        assert text not in stored, f"{text!r} is in the audit ledger"


def erase(compliance_api, external_id="C123"):
    response = compliance_api.delete(f"/api/v1/customers/{external_id}/")
    assert response.status_code == 202, response.content
    return response


def test_a_consent_source_a_channel_sent_is_kept_on_the_consent_not_in_the_ledger(
    customer, channel_api, compliance_api
):
    source = f"STOP from {PHONE}"
    response = channel_api.put(
        "/api/v1/customers/C123/consents/sms/",
        {"status": "revoked", "source": source, "captured_at": timezone.now().isoformat()},
    )
    assert response.status_code == 200, response.content

    assert_not_in_ledger(source, PHONE, "912345678")
    assert Consent.objects.get(customer=customer, channel="sms").source == source
    record = AuditRecord.objects.filter(kind="consent", action="consent_revoked").latest("seq")
    kept = record.data["source"]
    assert kept["class"] == "channel"  # an API client with the channel role sent it
    assert kept["hmac"] == free_text_hmac(source) and kept["length"] == len(source)
    assert "phone" in kept["contains"]

    erase(compliance_api)
    sources = list(Consent.objects.filter(customer=customer).values_list("source", flat=True))
    assert sources and not any(PHONE in value for value in sources), sources
    assert_not_in_ledger(source, PHONE)


def test_an_ack_provider_ref_and_error_are_kept_on_the_message_not_in_the_ledger(
    bank, customer, channel_api, compliance_api
):
    delivered = queue_message(customer, bank.fuel_card, bank.fuel_campaign)
    failed = queue_message(customer, bank.payment_help, bank.hardship_campaign)
    assert len(lease(channel_api).json()["messages"]) == 2
    provider_ref = f"smtp-id:<{EMAIL}>#42"
    error = f"550 5.1.1 <{EMAIL}>: recipient address rejected, user unknown"

    ok = channel_api.post(
        f"/api/v1/messages/{delivered.pk}/ack/",
        {"status": "delivered", "provider_ref": provider_ref},
    )
    bad = channel_api.post(
        f"/api/v1/messages/{failed.pk}/ack/",
        {"status": "failed", "provider_ref": provider_ref, "error": error},
    )
    assert ok.status_code == 200 and bad.status_code == 200, (ok.content, bad.content)

    assert_not_in_ledger(provider_ref, error, EMAIL)
    delivered.refresh_from_db()
    failed.refresh_from_db()
    assert delivered.provider_ref == provider_ref
    assert (failed.provider_ref, failed.error) == (provider_ref, error)
    record = AuditRecord.objects.get(action="message_failed", object_id=str(failed.pk))
    assert record.data["provider_ref"]["class"] == "provider_ref"
    assert record.data["provider_ref"]["hmac"] == free_text_hmac(provider_ref)
    assert record.data["error"]["class"] == "invalid_address"  # the error's category
    assert record.data["error"]["hmac"] == free_text_hmac(error)
    assert "email" in record.data["error"]["contains"]

    erase(compliance_api)
    rows = Message.objects.filter(pk__in=[delivered.pk, failed.pk]).values_list(
        "provider_ref", "error"
    )
    assert set(rows) == {("", "")}
    assert_not_in_ledger(provider_ref, error, EMAIL)


def test_an_override_reason_is_kept_on_the_override_not_in_the_ledger(
    bank, customer, channel_api, compliance_api
):
    decision = channel_api.post(
        "/api/v1/decisions/",
        {"customer": {"external_id": "C123"}, "channel": "branch", "max_offers": 3},
    ).json()
    assert decision["offers"], decision
    reason = f"{NAME} already has a fuel card with another bank, call {PHONE}"
    response = channel_api.post(
        "/api/v1/overrides/",
        {
            "decision_id": decision["decision_id"],
            "agent_id": "agent-7",
            "action": "replace",
            "offer_code": "SAVINGS_RETAIN",
            "reason": reason,
        },
    )
    assert response.status_code == 201, response.content

    assert_not_in_ledger(reason, NAME, PHONE)
    stored = Override.objects.get()
    assert stored.reason == reason
    record = AuditRecord.objects.get(kind="override", object_id=decision["decision_id"])
    assert record.data["reason"]["class"] == "channel"
    assert record.data["reason"]["hmac"] == free_text_hmac(reason)
    assert record.data["agent_id"] == "agent-7"  # staff id: kept, it says who overrode

    erase(compliance_api)
    stored.refresh_from_db()
    assert NAME not in stored.reason and PHONE not in stored.reason
    assert_not_in_ledger(reason, NAME, PHONE)
