"""Customer data writes, audited by pseudonym without personal data."""

from __future__ import annotations

import datetime

import pytest

from core.exceptions import Conflict, Unprocessable, ValidationFailed
from customers.models import Customer, Holding
from customers.pseudonyms import pseudonym_for
from customers.selectors import customer_get, customer_profile, customer_was_erased, open_holdings
from customers.services import (
    customer_erase_pii,
    customer_upsert,
    holding_close,
    holding_open,
    identity_link_add,
)
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PROFILE = {
    "first_name": "Rita",
    "last_name": "Lopes",
    "email": "rita@mail.example",
    "phone": "+351911111111",
    "birth_date": datetime.date(1990, 5, 1),
    "region": "Porto",
    "attributes": {"salary": 2800},
}


@pytest.fixture
def customer_audit(ledger_baseline):
    """This test's customer records (earlier transactional tests may have left some)."""

    def records() -> list[AuditRecord]:
        return list(ledger_baseline.records().filter(kind=AuditKind.CUSTOMER).order_by("seq"))

    return records


def assert_no_pii(records) -> None:
    text = str([(r.object_repr, r.data, r.object_id) for r in records])
    for value in ("C-RITA", "Rita", "Lopes", "rita@mail.example", "+351911111111", "2800"):
        assert value not in text


def test_upsert_creates_a_profile_with_its_pseudonym_and_holdings(customer_audit):
    customer, created = customer_upsert(
        actor="api:web", external_id="C-RITA", profile=PROFILE, holdings=["CURRENT", "SAVINGS"]
    )
    assert created
    assert customer.pseudonym == pseudonym_for("C-RITA")
    assert customer.first_name == "Rita"
    assert [h.product_code for h in open_holdings(customer=customer)] == ["CURRENT", "SAVINGS"]
    (record,) = customer_audit()
    assert (record.action, record.actor, record.customer_ref) == (
        "customer_created",
        "api:web",
        customer.pseudonym,
    )
    assert record.data["holdings_opened"] == ["CURRENT", "SAVINGS"]
    assert "first_name" in record.data["fields_changed"]
    assert_no_pii([record])


def test_upsert_updates_changed_fields_and_syncs_holdings(customer_audit):
    customer_upsert(
        actor="api:web", external_id="C-RITA", profile=PROFILE, holdings=["CURRENT", "SAVINGS"]
    )
    customer, created = customer_upsert(
        actor="api:web",
        external_id="C-RITA",
        profile={"region": "Lisbon"},
        holdings=["CURRENT", "GOLD"],
    )
    assert not created and customer.region == "Lisbon"
    assert [h.product_code for h in open_holdings(customer=customer)] == ["CURRENT", "GOLD"]
    assert Holding.objects.get(product_code="SAVINGS").closed_at is not None
    update = customer_audit()[-1]
    assert update.data == {
        "fields_changed": ["region"],
        "holdings_opened": ["GOLD"],
        "holdings_closed": ["SAVINGS"],
    }
    assert_no_pii(customer_audit())


def test_an_unchanged_upsert_writes_no_audit_record(customer_audit):
    customer_upsert(actor="api:web", external_id="C-RITA", profile=PROFILE)
    customer_upsert(actor="api:web", external_id="C-RITA", profile=PROFILE)
    assert len(customer_audit()) == 1


def test_upsert_rejects_unknown_fields_and_bad_values():
    with pytest.raises(ValidationFailed) as error:
        customer_upsert(actor="api:web", external_id="C-1", profile={"favourite_colour": "red"})
    assert "favourite_colour" in error.value.fields
    with pytest.raises(ValidationFailed):
        customer_upsert(actor="api:web", external_id="C-1", profile={"email": "not-an-email"})
    with pytest.raises(ValidationFailed):
        customer_upsert(actor="api:web", external_id="erased:x", profile={})
    with pytest.raises(ValidationFailed):
        customer_upsert(actor="api:web", external_id="C-1", profile={"attributes": [1]})
    assert not Customer.objects.exists()


def test_identity_links_are_audited_without_their_value(customer_audit):
    customer = CustomerFactory()
    link = identity_link_add(
        actor="api:app", customer=customer, type="device_id", value="dev-secret-1"
    )
    assert (link.method, link.confidence) == ("deterministic", 1.0)
    again = identity_link_add(
        actor="api:app",
        customer=customer,
        type="device_id",
        value="dev-secret-1",
        method="probabilistic",
        confidence=0.93,
    )
    assert again.pk == link.pk and again.confidence == 0.93
    records = customer_audit()
    assert [r.action for r in records] == ["identity_linked", "identity_updated"]
    assert all("dev-secret-1" not in str(r.data) for r in records)
    with pytest.raises(Conflict):
        identity_link_add(
            actor="api:app", customer=CustomerFactory(), type="device_id", value="dev-secret-1"
        )
    with pytest.raises(ValidationFailed):
        identity_link_add(actor="api:app", customer=customer, type="shoe_size", value="42")


def test_holdings_open_and_close_idempotently(customer_audit):
    customer = CustomerFactory()
    first = holding_open(
        actor="system:responses", customer=customer, product_code="GOLD", source="accept"
    )
    assert (
        holding_open(actor="system:responses", customer=customer, product_code="GOLD").pk
        == first.pk
    )
    assert holding_close(actor="api:core", customer=customer, product_code="GOLD")
    assert not holding_close(actor="api:core", customer=customer, product_code="GOLD")
    assert [r.action for r in customer_audit()] == ["holding_opened", "holding_closed"]


def test_erasing_pii_keeps_the_row_and_its_pseudonym(customer_audit):
    customer, _ = customer_upsert(actor="api:web", external_id="C-RITA", profile=PROFILE)
    identity_link_add(actor="api:app", customer=customer, type="email", value="rita@mail.example")

    summary = customer_erase_pii(actor="user:dpo", customer=customer)

    customer.refresh_from_db()
    assert summary == {
        "identities_removed": 1,
        "events_unlinked": 0,
        "identifiers_tombstoned": 2,  # the linked e-mail and the profile's phone
        "pending_events_erased": 0,
    }
    assert customer.external_id == f"erased:{customer.pseudonym}"
    assert customer.is_erased
    assert customer_get(external_id="C-RITA") is None
    assert customer_was_erased(external_id="C-RITA")
    assert customer_audit()[-1].action == "customer_pii_erased"
    assert_no_pii(customer_audit())
    with pytest.raises(Unprocessable):
        identity_link_add(
            actor="api:app", customer=customer, type="email", value="new@mail.example"
        )


def test_profile_selector_loads_holdings_and_identities_in_three_queries(django_assert_num_queries):
    customer_upsert(actor="api:web", external_id="C-RITA", profile=PROFILE, holdings=["A", "B"])
    with django_assert_num_queries(3):
        profile = customer_profile(external_id="C-RITA")
        codes = [h.product_code for h in profile.open_holdings]
        links = list(profile.identities.all())
    assert codes == ["A", "B"] and links == []


def test_a_write_whose_audit_row_fails_is_not_kept(monkeypatch):
    from ledger import services as ledger_services

    def refuse(record):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(ledger_services, "_insert", refuse)
    with pytest.raises(RuntimeError):
        customer_upsert(actor="api:web", external_id="C-NOAUDIT", profile={})
    assert not Customer.objects.filter(external_id="C-NOAUDIT").exists()
