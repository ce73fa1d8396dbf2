"""``ledger.redaction``: what the ledger keeps of free text, and the services that use it."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import override_settings
from django.utils import timezone

from compliance.models import DoNotContact, SuppressionEntry
from compliance.services import (
    do_not_contact_clear,
    suppression_add,
    suppression_lift,
)
from customers.services import identity_link_add
from decisioning.outbound.ack import error_category
from decisioning.rights.consent import do_not_contact_change
from decisioning.rights.erasure import customer_erase
from ledger.redaction import free_text, free_text_hmac, origin_of, staff_note
from tests.factories import CustomerFactory

SECRET = "Maria Sousa, maria@mail.example, +351 912 345 678, IBAN PT50000201231234567890154"


# --- the helper -----------------------------------------------------------------------------


def test_free_text_keeps_a_class_a_keyed_hash_and_the_length_never_the_text():
    kept = free_text(SECRET, kind="console")
    assert set(kept) == {"class", "length", "hmac", "contains"}
    assert kept["class"] == "console" and kept["length"] == len(SECRET)
    assert kept["contains"] == ["email", "phone", "digits"]
    assert len(kept["hmac"]) == 64 and kept["hmac"] == free_text_hmac(SECRET)
    stored = json.dumps(kept)
    for fragment in ("Maria", "Sousa", "maria@mail.example", "912", "PT50"):
        assert fragment not in stored


def test_equal_texts_match_by_their_hmac_and_different_ones_do_not():
    assert (
        free_text("STOP  from +351912345678 ", kind="channel")["hmac"]
        == free_text("STOP from +351912345678", kind="api")["hmac"]
    )  # normalised whitespace; the class is not hashed
    assert free_text("STOP", kind="channel")["hmac"] != free_text("stop", kind="channel")["hmac"]


def test_the_hmac_is_keyed_with_the_pseudonym_key():
    before = free_text_hmac("STOP")
    with override_settings(PSEUDONYM_KEY="another-key"):
        assert free_text_hmac("STOP") != before


def test_codes_the_code_defines_are_kept_and_empty_text_is_just_its_class():
    assert free_text("erasure", kind="system", codes={"erasure"}) == {
        "class": "system",
        "code": "erasure",
    }
    assert free_text("Erasure!", kind="system", codes={"erasure"})["hmac"]
    assert free_text("", kind="channel") == {"class": "channel", "length": 0}
    assert free_text(None, kind="channel") == {"class": "channel", "length": 0}
    assert free_text("   ", kind="channel") == {"class": "channel", "length": 0}


def test_text_without_personal_data_patterns_says_so():
    assert free_text("customer prefers e-mail", kind="console")["contains"] == []
    assert free_text("ref 123456789", kind="console")["contains"] == ["phone", "digits"]


class _Client:
    def __init__(self, name, role):
        self.actor, self.role = f"api:{name}", role


def test_origin_of_names_the_kind_of_source():
    assert origin_of(_Client("sms-gateway", "channel")) == "channel"
    assert origin_of(_Client("crm", "compliance")) == "api"
    assert origin_of("api:sms-gateway") == "api"  # a bare name does not say its role
    assert origin_of("user:dpo") == "console"
    assert origin_of("system:erasure") == "system"


def test_staff_notes_are_kept_verbatim_but_bounded():
    assert staff_note("Disclosure wording is wrong") == "Disclosure wording is wrong"
    assert len(staff_note("x" * 5000)) == 2000
    assert staff_note(None) == ""


@pytest.mark.parametrize(
    ("error", "category"),
    [
        ("", "none"),
        ("STOP received", "opted_out"),
        ("550 5.1.1 <a@b.example>: recipient address rejected, user unknown", "invalid_address"),
        ("mailbox full, message bounced", "bounced"),
        ("handset switched off", "unreachable"),
        ("rate limit exceeded", "throttled"),
        ("gateway timed out", "timeout"),
        ("kaboom", "other"),
    ],
)
def test_delivery_errors_are_classified(error, category):
    assert error_category(error) == category


# --- services ------------------------------------------------------------------------------


def _ledger(ledger_baseline) -> str:
    return "\n".join(
        json.dumps([r.object_repr, r.data], ensure_ascii=False) for r in ledger_baseline.records()
    )


@pytest.mark.django_db
def test_do_not_contact_and_suppression_reasons_stay_on_their_rows_until_erasure(
    ledger_baseline,
):
    customer = CustomerFactory()
    do_not_contact_change(
        actor="user:agent", customer=customer, reason=f"asked by phone: {SECRET}", source="console"
    )
    entry = suppression_add(
        actor="user:agent", customer=customer, scope="all", reason="Maria complained"
    )
    suppression_lift(actor="user:agent", entry=entry, reason="Maria called back")
    do_not_contact_clear(actor="user:agent", customer=customer, reason="Maria said OK")
    do_not_contact_change(actor="user:agent", customer=customer, reason=SECRET, source="console")
    cooldown = suppression_add(
        actor="user:agent",
        customer=customer,
        scope="product",
        value="FUEL_CARD",
        until=timezone.now() + datetime.timedelta(days=30),
        reason="cooldown_after_decline",
        source="response:R-9",
    )

    stored = _ledger(ledger_baseline)
    for text in ("Maria", "Sousa", "maria@mail.example", "912 345 678", "complained"):
        assert text not in stored
    assert '"code": "cooldown_after_decline"' in stored and '"code": "response:R-9"' in stored
    assert DoNotContact.objects.get(customer=customer).reason == SECRET
    assert SuppressionEntry.objects.get(pk=entry.pk).reason == "Maria complained"

    customer_erase(actor="user:dpo", customer=customer)

    assert DoNotContact.objects.get(customer=customer).reason == "[erased]"
    reasons = dict(SuppressionEntry.objects.filter(customer=customer).values_list("pk", "reason"))
    assert reasons[entry.pk] == "[erased]"
    assert reasons[cooldown.pk] == "cooldown_after_decline"  # a code: the row keeps working
    assert "erased" in reasons.values()
    stored = _ledger(ledger_baseline)
    for text in ("Maria", "maria@mail.example", "912 345 678"):
        assert text not in stored


@pytest.mark.django_db
def test_an_identity_source_a_channel_sent_is_not_in_the_ledger(ledger_baseline):
    customer = CustomerFactory()
    identity_link_add(
        actor="api:crm",
        customer=customer,
        type="card_token",
        value="tok_1",
        source="imported from maria@mail.example's old profile",
    )
    [record] = ledger_baseline.records().filter(action="identity_linked")
    assert record.data["source"]["class"] == "api"
    assert "maria@mail.example" not in json.dumps(record.data)
