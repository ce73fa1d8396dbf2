"""GET offers, campaigns, audit records and ledger verification."""

from __future__ import annotations

import pytest
from django.db import connection

from ledger.models import AuditRecord
from ledger.sealer import seal_all_pending
from ledger.testing import ledger_triggers_dropped
from offers.models import Offer
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def test_offers_lists_active_offers_with_product_family_and_approved_channels(bank, channel_api):
    Offer.objects.filter(code="LOAN_SPRING").update(status="paused")
    response = channel_api.get("/api/v1/offers/")
    assert response.status_code == 200
    body = response.json()
    codes = [offer["code"] for offer in body["results"]]
    assert "LOAN_SPRING" not in codes and "FUEL_CARD_CASHBACK" in codes
    fuel = next(o for o in body["results"] if o["code"] == "FUEL_CARD_CASHBACK")
    assert fuel["family"] == "cards" and fuel["product"]["code"] == "FUEL_CARD"
    assert {c["channel"] for c in fuel["channels"]} == {
        "mobile_app",
        "web",
        "branch",
        "contact_center",
        "atm",
        "push",
        "sms",
        "email",
    }


def test_offers_filter_by_family_and_kind(bank, channel_api):
    body = channel_api.get("/api/v1/offers/", {"family": "deposits", "kind": "service"}).json()
    assert [o["code"] for o in body["results"]] == ["PAYMENT_HELP"]
    assert channel_api.get("/api/v1/offers/", {"family": "boats"}).status_code == 400


def test_one_offer_by_code(bank, channel_api):
    assert channel_api.get("/api/v1/offers/SAVINGS_RETAIN/").json()["code"] == "SAVINGS_RETAIN"
    assert channel_api.get("/api/v1/offers/NOPE/").status_code == 404


def test_campaigns_list_with_status(bank, make_api):
    response = make_api("marketer").get("/api/v1/campaigns/", {"status": "running"})
    assert response.status_code == 200
    by_code = {c["code"]: c for c in response.json()["results"]}
    assert by_code["FUEL_TRIGGER"]["status"] == "running"
    assert by_code["NBO_INBOUND"]["offers"]


def test_audit_lists_records_newest_last_with_seq_hash_and_prev_hash(
    bank, customer, channel_api, compliance_api
):
    channel_api.post(
        "/api/v1/decisions/", {"customer": {"external_id": "C123"}, "channel": "branch"}
    )
    seal_all_pending()
    response = compliance_api.get("/api/v1/audit/", {"customer": "C123"})
    assert response.status_code == 200
    records = response.json()["results"]
    assert records
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    for record in records:
        assert record["customer_ref"] == customer.pseudonym
        assert len(record["hash"]) == 64
        assert record["seal"] is not None and len(record["prev_hash"]) == 64
    by_pseudonym = compliance_api.get("/api/v1/audit/", {"customer": customer.pseudonym})
    assert [r["seq"] for r in by_pseudonym.json()["results"]] == [r["seq"] for r in records]


def test_audit_filters_by_kind_and_since(bank, customer, channel_api, compliance_api):
    channel_api.post(
        "/api/v1/decisions/", {"customer": {"external_id": "C123"}, "channel": "branch"}
    )
    kinds = {
        r["kind"]
        for r in compliance_api.get("/api/v1/audit/", {"kind": "offer_released"}).json()["results"]
    }
    assert kinds == {"offer_released"}
    later = compliance_api.get("/api/v1/audit/", {"since": "2999-01-01T00:00:00Z"}).json()
    assert later["results"] == []


@pytest.mark.parametrize(
    "params", [{"since": "yesterday"}, {"kind": "gossip"}, {"since": "2026-01-01T00:00:00"}]
)
def test_audit_rejects_bad_filters(compliance_api, params):
    response = compliance_api.get("/api/v1/audit/", params)
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_audit_verify_says_ok_with_the_record_count(bank, compliance_api):
    seal_all_pending()
    body = compliance_api.get("/api/v1/audit/verify/").json()
    assert body["ok"] is True and body["records"] == AuditRecord.objects.count()


def test_audit_verify_names_the_first_broken_seq(bank, compliance_api):
    first = AuditRecord.objects.order_by("seq").first()
    with ledger_triggers_dropped(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE compliance_auditrecord SET action = 'forged' WHERE seq = %s", [first.seq]
        )
    body = compliance_api.get("/api/v1/audit/verify/").json()
    assert body["ok"] is False and body["seq"] == first.seq
