"""Customer 360, the decision ledger, consent changes and erasure from the console."""

from __future__ import annotations

import datetime
import uuid

from django.urls import reverse
from django.utils import timezone

from compliance.choices import ErasureStatus
from compliance.models import Consent, ErasureRequest
from core.paging import time_cursor
from customers.models import Customer
from decisioning.choices import MessageStatus
from decisioning.models import Decision, Message
from tests.console.builders import make_decision
from tests.factories import CustomerFactory, IdentityLinkFactory


def test_search_by_external_id_goes_straight_to_the_customer(client, people, bank):
    client.force_login(people["analyst"])
    response = client.get(reverse("customers:search"), {"q": "CUST-0001"})
    assert response.status_code == 302
    assert response["Location"] == reverse("decisioning:customer_360", args=["CUST-0001"])


def test_search_by_a_linked_identifier(client, people, bank):
    IdentityLinkFactory(customer=bank.customer, type="card_token", value="tok_abc")
    client.force_login(people["marketer"])
    response = client.get(
        reverse("customers:search"), {"q": "tok_abc", "identifier_type": "card_token", "go": "0"}
    )
    assert [c.external_id for c in response.context["results"]] == ["CUST-0001"]
    none = client.get(reverse("customers:search"), {"q": "tok_abc", "identifier_type": "phone"})
    assert none.context["results"] == []
    assert "No customer has this id" in none.content.decode()


def test_customer_360_shows_profile_holdings_consents_and_decisions(client, people, bank):
    client.force_login(people["analyst"])
    body = client.get(
        reverse("decisioning:customer_360", args=[bank.customer.external_id])
    ).content.decode()
    assert "CURRENT_ACCOUNT" in body  # holdings
    assert "Granted" in body  # consents
    assert reverse("decisioning:decision_explain", args=[bank.decision.pk]) in body
    assert 'hx-trigger="toggle once"' in body  # the explanation loads when opened
    assert "Record a consent change" not in body  # analysts read, compliance acts


def test_the_explanation_shows_candidates_verdicts_factors_and_versions(client, people, bank):
    client.force_login(people["marketer"])
    body = client.get(
        reverse("decisioning:decision_detail", args=[bank.decision.pk])
    ).content.decode()
    assert "Candidates considered (2)" in body
    assert "not_in_audience" in body and "&quot;age&quot;: 41" in body  # a verdict and its values
    # every verdict is named in plain words, a pass as what it checks, a failure as what
    # it found (stored verdicts are ids into the decision's table, resolved for display)
    assert '<li class="pass">In the campaign&#x27;s audience' in body
    assert '<li class="fail">Already holds a product of this family' in body
    assert "0.2500" in body and "100.00" in body  # score factors
    assert "policy v1" in body and "CARD=3" in body  # versions
    assert "holds_product" in body  # a suppressed offer and why


def test_batch_decisions_show_their_compact_explanation(client, people, bank):
    decision = make_decision(
        bank.customer,
        bank.campaign,
        mode="batch",
        run=bank.run,
        explanation={
            "mode": "batch",
            "campaign": "FUEL_PUSH",
            "outcome": "released",
            "arm": "B",
            "in_audience": True,
            "control_group": False,
            "policy_version": 1,
            "snapshot_version": "catalog-2",
            "model_versions": {},
        },
        offers=[
            {
                "rank": 1,
                "offer_code": "CARD_FUEL",
                "campaign": "FUEL_PUSH",
                "channel": "sms",
                "content_version": 1,
                "score": 3.0,
                "score_factors": {"propensity": 0.1, "value": 30.0, "lever": 1.0},
            }
        ],
    )
    client.force_login(people["analyst"])
    body = client.get(reverse("decisioning:decision_explain", args=[decision.pk])).content.decode()
    assert "arm B" in body and "in the audience" in body
    assert "CARD_FUEL" in body and "3.0000" in body


def test_the_decision_ledger_pages_by_keyset_newest_first(client, people, bank):
    now = timezone.now()
    customer = CustomerFactory()
    for minute in range(120):
        make_decision(customer, bank.campaign, created_at=now - datetime.timedelta(minutes=minute))
    client.force_login(people["analyst"])
    url = reverse("decisioning:decision_list")
    first = client.get(url).context["page"]
    assert len(first.items) == 50 and first.newer is None and first.older
    times = [d.created_at for d in first.items]
    assert times == sorted(times, reverse=True)

    second = client.get(url, {"before": first.older}).context["page"]
    assert len(second.items) == 50 and second.newer
    assert not {d.pk for d in first.items} & {d.pk for d in second.items}
    assert second.items[0].created_at <= first.items[-1].created_at

    back = client.get(url, {"after": second.newer}).context["page"]
    assert [d.pk for d in back.items] == [d.pk for d in first.items]
    garbage = client.get(url, {"before": "not-a-cursor"})
    assert garbage.status_code == 200 and len(garbage.context["page"].items) == 50


def test_decisions_sharing_a_timestamp_are_never_skipped_or_repeated(client, people, bank):
    moment = timezone.now()
    customer = CustomerFactory()
    made = {make_decision(customer, bank.campaign, created_at=moment).pk for _ in range(75)}
    client.force_login(people["analyst"])
    url = reverse("decisioning:decision_list")
    seen, cursor = [], None
    while True:
        page = client.get(url, {"before": cursor} if cursor else {}).context["page"]
        seen += [d.pk for d in page.items]
        cursor = page.older
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and made <= set(seen)


def test_the_decision_ledger_filters(client, people, bank):
    other = CustomerFactory(external_id="CUST-0002")
    make_decision(other, None, channel="web", mode="inbound", control_group=True)
    client.force_login(people["compliance"])
    url = reverse("decisioning:decision_list")
    by_customer = client.get(url, {"customer": "CUST-0002"}).context["page"].items
    assert [d.customer.external_id for d in by_customer] == ["CUST-0002"]
    by_campaign = client.get(url, {"campaign": bank.campaign.pk}).context["page"].items
    assert {d.pk for d in by_campaign} == {bank.decision.pk}
    control = client.get(url, {"control_group": "true", "mode": "inbound", "channel": "web"})
    assert [d.customer_id for d in control.context["page"].items] == [other.pk]
    today = timezone.localdate().isoformat()
    dated = client.get(url, {"date_from": today, "date_to": today}).context["page"].items
    assert len(dated) == 2
    assert (
        client.get(url, {"date_from": "2000-01-01", "date_to": "2000-01-02"}).context["page"].items
        == []
    )


def _queued_sms(bank) -> Message:
    return Message.objects.create(
        decision=bank.decision,
        customer=bank.customer,
        campaign=bank.campaign,
        offer=bank.offer,
        content=bank.content,
        channel="sms",
        deliver_after=timezone.now(),
        created_at=timezone.now(),
    )


def test_a_consent_revoke_from_the_console_cancels_queued_messages(client, people, bank):
    message = _queued_sms(bank)
    client.force_login(people["compliance"])
    page = client.get(reverse("decisioning:customer_360", args=[bank.customer.external_id]))
    assert "Record a consent change" in page.content.decode()
    url = reverse("decisioning:consent_change", args=[bank.customer.external_id])
    asked = {"channel": "sms", "status": "revoked", "source": "phone call"}
    # First it says what will happen, in the page's main area, keeping what was typed.
    question = client.post(url, asked, HTTP_HX_REQUEST="true")
    assert question["HX-Retarget"] == "#content"
    text = question.content.decode()
    assert "1 queued sales message(s)" in text and "does not bring them back" in text
    assert 'name="source" value="phone call"' in text
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert Consent.objects.get(customer=bank.customer, channel="sms").status == "granted"
    response = client.post(url, {**asked, "confirm": "yes"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "1 queued message(s) cancelled" in body
    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED
    assert Consent.objects.get(customer=bank.customer, channel="sms").status == "revoked"


def test_the_consent_form_shows_the_services_error(client, people, bank):
    bank.customer.erased_at = timezone.now()
    bank.customer.save()
    client.force_login(people["compliance"])
    response = client.post(
        reverse("decisioning:consent_change", args=[bank.customer.external_id]),
        {"channel": "email", "status": "granted", "source": "x"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert "no consent can be granted" in response.content.decode()


def test_do_not_contact_from_the_console(client, people, bank):
    message = _queued_sms(bank)
    client.force_login(people["compliance"])
    url = reverse("decisioning:do_not_contact", args=[bank.customer.external_id])
    question = client.post(url, {"reason": "asked on the phone"})
    assert "1 queued sales message(s) will be cancelled now" in question.content.decode()
    assert 'name="reason" value="asked on the phone"' in question.content.decode()
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    response = client.post(url, {"reason": "asked on the phone", "confirm": "yes"}, follow=True)
    assert "Do-not-contact set; 1 pending message(s) cancelled." in response.content.decode()
    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED
    response = client.post(url, {"reason": "asked again", "clear": "1"}, follow=True)
    assert "Do-not-contact lifted." in response.content.decode()


def test_erasure_from_the_console(client, people, bank):
    client.force_login(people["compliance"])
    url = reverse("decisioning:erasure_list")
    mismatch = client.post(url, {"external_id": "CUST-0001", "confirm": "CUST-0002"})
    assert mismatch.status_code == 400 and "Does not match" in mismatch.content.decode()
    response = client.post(url, {"external_id": "CUST-0001", "confirm": "CUST-0001"}, follow=True)
    assert "Customer erased" in response.content.decode()
    request = ErasureRequest.objects.get()
    assert request.status == ErasureStatus.COMPLETED
    customer = Customer.objects.get(pk=bank.customer.pk)
    assert customer.is_erased and customer.first_name == ""
    # Still found by the bank's old id (through the pseudonym), and shown as erased.
    found = client.get(reverse("customers:search"), {"q": "CUST-0001", "go": "0"})
    assert [c.pk for c in found.context["results"]] == [customer.pk]
    assert "erased" in found.content.decode()
    again = client.post(url, {"external_id": "CUST-0001", "confirm": "CUST-0001"})
    assert again.status_code == 400 and "No customer has this id" in again.content.decode()


def test_rare_rows_are_searched_a_window_at_a_time(client, people, bank, monkeypatch):
    """Filters no index serves look at a bounded window per page, then offer to go on."""
    from decisioning import selectors

    monkeypatch.setattr(selectors, "LEDGER_SCAN_WINDOW", 20)
    now = timezone.now()
    customer = CustomerFactory()
    rare = []
    for index in range(70):
        channel = "web" if index % 25 == 24 else "sms"
        decision = make_decision(
            customer,
            bank.campaign,
            channel=channel,
            created_at=now - datetime.timedelta(seconds=index + 1),
        )
        if channel == "web":
            rare.append(decision.pk)
    client.force_login(people["analyst"])
    url = reverse("decisioning:decision_list")
    found, cursor, pages = [], None, 0
    while True:
        params = {"channel": "web", "campaign": bank.campaign.pk}
        if cursor:
            params["before"] = cursor
        response = client.get(url, params)
        page = response.context["page"]
        pages += 1
        found += [d.pk for d in page.items]
        if page.searched:
            assert "Search further back" in response.content.decode()
        cursor = page.older
        if not cursor:
            break
    assert found == rare  # every rare row, newest first, none twice
    assert pages >= 3  # the 71 rows were searched in windows of 20

    # And back towards the newest, window by window, from past the oldest rare row.
    oldest = Decision.objects.get(pk=rare[-1])
    cursor = time_cursor(oldest.created_at, uuid.UUID(int=0))
    back = []
    while cursor:
        page = client.get(url, {"channel": "web", "after": cursor}).context["page"]
        back = [d.pk for d in page.items] + back
        cursor = page.newer
    assert back == rare
