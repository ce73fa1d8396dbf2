"""Compliance screens: the approval queue (maker-checker), the audit ledger, exports,
verification and customer suppressions."""

from __future__ import annotations

import json

from django.urls import reverse

from compliance.choices import ApprovalStatus
from compliance.models import SuppressionEntry
from customers.pseudonyms import pseudonym_for
from ledger.models import AuditRecord
from ledger.sealer import seal_all_pending
from offers import services as offer_services
from tests.console.builders import pending_content_approval
from tests.factories import persona

APPROVE_BUTTON = 'name="action" value="approve"'


def test_the_queue_opens_on_pending_requests_and_any_status_lists_pending_first(
    client, people, bank
):
    pending = pending_content_approval(people["marketer"], bank.offer)
    client.force_login(people["compliance"])
    opened = client.get(reverse("compliance:approval_list")).content.decode()
    assert f"/compliance/approvals/{pending.pk}/" in opened
    assert f"/compliance/approvals/{bank.approval.pk}/" not in opened  # decided: not waiting
    assert "1 pending" in opened
    body = client.get(reverse("compliance:approval_list"), {"status": ""}).content.decode()
    assert body.index(f"/compliance/approvals/{pending.pk}/") < body.index(
        f"/compliance/approvals/{bank.approval.pk}/"
    )


def test_the_review_screen_shows_snapshot_findings_and_the_diff_to_the_approved_version(
    client, people, bank
):
    maker = people["marketer"]
    changed = offer_services.content_create_version(
        actor=maker,
        offer=bank.offer,
        channel="sms",
        headline="3% back on fuel",
        body="Get 3% cashback on fuel with our card.",
        call_to_action="Apply",
    )
    approval = offer_services.content_submit_for_approval(actor=maker, content=changed)
    client.force_login(people["compliance"])
    body = client.get(reverse("compliance:approval_detail", args=[approval.pk])).content.decode()
    assert "3% back on fuel" in body  # the submitted snapshot
    assert "Against v1" in body  # the previously approved version
    assert "2% back on fuel" in body  # ... and what it said
    assert "sms_without_opt_out" in body  # a finding: the new body dropped "Reply STOP"
    assert 'class="finding blocking"' in body  # blocking findings are highlighted
    assert APPROVE_BUTTON not in body  # and approval is impossible while they stand


def test_a_checker_approves_a_clean_version(client, people, bank):
    approval = pending_content_approval(people["marketer"], bank.offer)
    client.force_login(people["compliance"])
    page = client.get(reverse("compliance:approval_detail", args=[approval.pk])).content.decode()
    assert APPROVE_BUTTON in page
    response = client.post(
        reverse("compliance:approval_detail", args=[approval.pk]),
        {"action": "approve", "comment": "ok"},
    )
    assert response.status_code == 302
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    assert approval.decided_by == people["compliance"]


def test_the_author_never_sees_approve_and_is_refused(client, people, bank):
    both = persona("both", "marketer", "compliance")
    approval = pending_content_approval(both, bank.offer)
    client.force_login(both)
    url = reverse("compliance:approval_detail", args=[approval.pk])
    page = client.get(url).content.decode()
    assert APPROVE_BUTTON not in page
    assert "cannot approve or reject your own work" in page
    for action in ("approve", "reject", "request_changes"):
        response = client.post(url, {"action": action, "comment": "mine"})
        assert response.status_code == 403
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    # The author may still comment on their own request.
    assert client.post(url, {"action": "comment", "comment": "context"}).status_code == 302


def test_rejecting_without_a_comment_shows_the_services_error(client, people, bank):
    approval = pending_content_approval(people["marketer"], bank.offer)
    client.force_login(people["compliance"])
    response = client.post(
        reverse("compliance:approval_detail", args=[approval.pk]), {"action": "reject"}
    )
    assert response.status_code == 400
    assert "Say why when you reject." in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_requesting_changes_sends_it_back_to_the_marketer(client, people, bank):
    approval = pending_content_approval(people["marketer"], bank.offer)
    client.force_login(people["compliance"])
    client.post(
        reverse("compliance:approval_detail", args=[approval.pk]),
        {"action": "request_changes", "comment": "Name the fee."},
    )
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.CHANGES_REQUESTED
    client.force_login(people["marketer"])
    home = client.get(reverse("home")).content.decode()
    assert "Sent back to you" in home and "Name the fee." in home


def test_the_audit_ledger_shows_records_newest_last_with_hash_and_seal(client, people, bank):
    seal_all_pending()
    client.force_login(people["compliance"])
    records = list(AuditRecord.objects.order_by("seq"))
    body = client.get(reverse("compliance:audit_list")).content.decode()
    first, last = records[0], records[-1]
    assert body.index(f">{first.seq}<") < body.index(f">{last.seq}<")
    assert last.record_hash[:12] in body
    seal = last.membership.seal
    assert f"#{seal.seq} {seal.seal_hash[:8]}" in body and seal.prev_hash[:8] in body


def test_the_audit_ledger_pages_by_sequence_without_counting(client, people, bank):
    client.force_login(people["compliance"])
    for index in range(60):
        offer_services.product_update(
            actor=people["marketer"], product=bank.product, data={"name": f"Card {index}"}
        )
    newest = AuditRecord.objects.order_by("-seq").first()
    page = client.get(reverse("compliance:audit_list"))
    older = page.context["page"].older
    assert older is not None and page.context["page"].newer is None
    assert len(page.context["page"].items) == 50
    assert page.context["page"].items[-1].seq == newest.seq
    previous = client.get(reverse("compliance:audit_list") + f"?before={older}")
    items = previous.context["page"].items
    assert items[-1].seq < int(older) and previous.context["page"].newer == str(items[-1].seq)


def test_the_audit_ledger_filters_by_customer_id_kind_and_time(client, people, bank):
    client.force_login(people["compliance"])
    client.post(
        reverse("compliance:suppression_add", args=[bank.customer.external_id]),
        {"scope": "product", "value": "LOAN", "reason": "complaint"},
    )
    response = client.get(
        reverse("compliance:audit_list") + f"?customer={bank.customer.external_id}&kind=suppression"
    )
    items = response.context["page"].items
    assert [r.action for r in items] == ["suppression_added"]
    assert items[0].customer_ref == pseudonym_for(bank.customer.external_id)
    none = client.get(reverse("compliance:audit_list") + "?since=2999-01-01T00:00")
    assert none.context["page"].items == []


def test_exports_stream_the_filtered_trail_as_csv_and_json_lines(client, people, bank):
    client.force_login(people["compliance"])
    response = client.get(reverse("compliance:audit_export", args=["jsonl"]) + "?kind=approval")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert "attachment;" in response["Content-Disposition"]
    lines = [
        json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()
    ]
    assert lines and {line["kind"] for line in lines} == {"approval"}
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)

    response = client.get(reverse("compliance:audit_export", args=["csv"]))
    text = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/csv")
    assert text.splitlines()[0].startswith("seq,")
    assert client.get(reverse("compliance:audit_export", args=["xml"])).status_code == 404


def test_verify_ledger_reports_an_intact_ledger(client, people, bank):
    seal_all_pending()
    client.force_login(people["compliance"])
    response = client.post(reverse("compliance:ledger_verify"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Ledger verified." in body and "<html" not in body
    page = client.post(reverse("compliance:ledger_verify"))
    assert "<html" in page.content.decode()


def test_a_compliance_officer_adds_and_lifts_a_suppression(client, people, bank):
    client.force_login(people["compliance"])
    url = reverse("compliance:suppression_add", args=[bank.customer.external_id])
    response = client.post(url, {"scope": "family", "value": "loans", "reason": "complaint"})
    assert response.status_code == 302
    entry = SuppressionEntry.objects.get(customer=bank.customer)
    response = client.post(
        reverse("compliance:suppression_lift", args=[bank.customer.external_id, entry.pk]),
        {"reason": "resolved"},
    )
    entry.refresh_from_db()
    assert entry.until is not None


def test_the_suppression_form_shows_the_services_error(client, people, bank):
    client.force_login(people["compliance"])
    response = client.post(
        reverse("compliance:suppression_add", args=[bank.customer.external_id]),
        {"scope": "channel", "value": "fax", "reason": "x"},
    )
    assert response.status_code == 400
    assert "The suppression is not valid." in response.content.decode()
