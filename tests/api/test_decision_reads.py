"""``POST /api/v1/decisions/`` reads the customer with their context: one query for the
customer named by ``external_id``, their context and the catalog version; then the
decision's one write (on PostgreSQL) — what the API promises is unchanged."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from decisioning.models import Decision
from tests.factories import CustomerFactory, IdentityLinkFactory

pytestmark = pytest.mark.django_db


def _queries(call):
    with CaptureQueriesContext(connection) as captured:
        response = call()
    sql = [query["sql"] for query in captured.captured_queries]
    return response, sql


def test_a_decision_for_an_external_id_reads_the_customer_in_the_context_query(bank, channel_api):
    CustomerFactory(external_id="C-warm")
    channel_api.post(
        "/api/v1/decisions/", {"customer": {"external_id": "C-warm"}, "channel": "web"}
    )
    customer = CustomerFactory(external_id="C-ONE-READ")
    response, sql = _queries(
        lambda: channel_api.post(
            "/api/v1/decisions/", {"customer": {"external_id": "C-ONE-READ"}, "channel": "web"}
        )
    )
    assert response.status_code == 200, response.content
    assert response.json()["customer"] == "C-ONE-READ" and response.json()["offers"]
    reads = [q for q in sql if q.startswith("SELECT")]
    assert len(reads) == 1, reads
    assert "customers_customer" in reads[0] and "compliance_catalogversion" in reads[0]
    if connection.vendor == "postgresql":
        writes = [q for q in sql if not q.startswith(("SELECT", "SAVEPOINT", "RELEASE"))]
        assert len(writes) == 1, writes
    decision = Decision.objects.get(pk=response.json()["decision_id"])
    assert decision.customer_id == customer.pk
    assert decision.explanation["identity"] == {
        "resolved": True,
        "link_id": None,
        "method": "external_id",
        "confidence": 1.0,
        "reason": "",
    }


def test_a_decision_for_an_identifier_still_resolves_it_through_the_identity_link(
    bank, channel_api
):
    customer = CustomerFactory()
    link = IdentityLinkFactory(customer=customer, type="email", value="ana@example.org")
    response = channel_api.post(
        "/api/v1/decisions/",
        {
            "customer": {"identifier": {"type": "email", "value": "ana@example.org"}},
            "channel": "web",
        },
    )
    assert response.status_code == 200, response.content
    decision = Decision.objects.get(pk=response.json()["decision_id"])
    assert decision.customer_id == customer.pk
    assert decision.explanation["identity"]["link_id"] == link.pk


def test_an_unknown_external_id_is_404_and_nothing_is_stored(bank, channel_api):
    response = channel_api.post(
        "/api/v1/decisions/", {"customer": {"external_id": "NOBODY"}, "channel": "web"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["fields"] == {"customer": ["unknown external_id"]}
    assert not Decision.objects.exists()
