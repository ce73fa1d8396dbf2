"""Resolution of how a channel names a customer, and erased customers' tombstones."""

from __future__ import annotations

import pytest

from customers.identity import (
    REDACTED,
    identifier_hmac,
    redact_payload,
    redact_reference,
    resolve_customer,
)
from customers.models import ErasedIdentifier, IdentityLink
from customers.services import customer_erase_pii, identifiers_tombstone, identity_link_add
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def erased(ledger_baseline):
    customer = CustomerFactory(external_id="C-GONE", email="gone@mail.example", phone="+351 911")
    identity_link_add(actor="api:app", customer=customer, type="card_token", value="tok-gone")
    customer_erase_pii(actor="user:dpo", customer=customer)
    customer.refresh_from_db()
    return customer


@pytest.mark.parametrize(
    "ref",
    [
        {"external_id": "C-GONE"},
        {"identifier": {"type": "card_token", "value": "tok-gone"}},
        {"identifier": {"type": "email", "value": "Gone@Mail.Example"}},
        {"identifier": {"type": "phone", "value": "+351911"}},
    ],
    ids=["former_id", "former_link", "former_email", "former_phone"],
)
def test_a_former_reference_of_an_erased_customer_resolves_to_nobody_as_erased(erased, ref):
    resolution = resolve_customer(ref)
    assert not resolution.resolved and resolution.erased
    assert "erased" in resolution.reason


def test_the_erased_id_resolves_to_nobody_but_says_which_row(erased):
    resolution = resolve_customer({"external_id": erased.external_id})
    assert not resolution.resolved and resolution.erased
    assert resolution.erased_customer == erased


def test_unknown_references_are_unknown_not_erased(erased):
    for ref in (
        {"external_id": "C-NEVER"},
        {"external_id": "erased:cust_nope"},
        {"identifier": {"type": "card_token", "value": "tok-never"}},
        # the same value under another identifier type is another identifier
        {"identifier": {"type": "login_id", "value": "tok-gone"}},
    ):
        resolution = resolve_customer(ref)
        assert not resolution.resolved and not resolution.erased, ref


def test_a_live_link_wins_over_a_tombstone(erased):
    newcomer = CustomerFactory()
    IdentityLink.objects.create(customer=newcomer, type="card_token", value="tok-gone")
    resolution = resolve_customer({"identifier": {"type": "card_token", "value": "tok-gone"}})
    assert resolution.customer == newcomer and not resolution.erased


def test_tombstones_are_keyed_hashes_normalised_and_written_once():
    assert identifier_hmac("email", " A@B.example ") == identifier_hmac("email", "a@b.example")
    assert identifier_hmac("phone", "+351 910-000") == identifier_hmac("phone", "+351910000")
    assert identifier_hmac("card_token", "Tok") != identifier_hmac("card_token", "tok")
    assert identifier_hmac("email", "a@b.example") != identifier_hmac("login_id", "a@b.example")
    digest = identifier_hmac("card_token", "tok")
    assert len(digest) == 64 and "tok" not in digest
    assert identifiers_tombstone(identifiers=[("card_token", "tok"), ("card_token", "tok")]) == 1
    identifiers_tombstone(identifiers=[("card_token", "tok")])
    assert ErasedIdentifier.objects.count() == 1


def test_the_tombstone_key_is_the_pseudonym_key(settings):
    before = identifier_hmac("email", "a@b.example")
    settings.PSEUDONYM_KEY = "another-key"
    assert identifier_hmac("email", "a@b.example") != before


def test_redaction_keeps_the_type_and_the_pseudonym_but_not_the_value():
    assert redact_reference({"identifier": {"type": "phone", "value": "+351"}}) == {
        "identifier": {"type": "phone", "value": REDACTED}
    }
    assert redact_reference({"external_id": "C1"}) == {"external_id": REDACTED}
    assert redact_reference({"external_id": "erased:cust_1"}) == {"external_id": "erased:cust_1"}
    payload = {"A@B.example": 1, "n": [{"to": "mail a@b.EXAMPLE now"}, 5, None, True]}
    assert redact_payload(payload, ["a@b.example"]) == {
        REDACTED: 1,
        "n": [{"to": f"mail {REDACTED} now"}, 5, None, True],
    }
    assert redact_payload(payload, []) is payload
