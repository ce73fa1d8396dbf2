"""Authoring: live channel previews, one change per offer in the queue, rollback."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compliance import services as compliance_services
from compliance.choices import ApprovalStatus
from compliance.models import ApprovalRequest
from core.exceptions import Conflict, PermissionDenied, Unprocessable
from offers import services as offer_services
from offers.models import OfferContent
from offers.selectors import approved_content


def _draft(maker, offer, channel, body, headline="Fuel card"):
    return offer_services.content_create_version(
        actor=maker, offer=offer, channel=channel, headline=headline, body=body
    )


def test_the_live_preview_counts_sms_characters_and_segments_as_typed(client, people, bank):
    client.force_login(people["marketer"])
    url = reverse("offers:content_precheck", args=[bank.offer.pk, "sms"])
    body = client.post(
        url, {"headline": "H", "body": "a" * 161 + " Reply STOP"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'id="live"' in body and "<html" not in body
    assert 'data-testid="sms-units">172<' in body and 'data-testid="sms-segments">2<' in body
    assert "STOP wording present" in body
    unicode = client.post(url, {"body": "Olá \u2019"}, HTTP_HX_REQUEST="true").content.decode()
    assert "UCS-2" in unicode and "no STOP wording" in unicode


def test_the_editor_page_previews_push_and_agent_prompts(client, people, bank):
    client.force_login(people["marketer"])
    push = client.get(reverse("offers:content_edit", args=[bank.offer.pk, "push"])).content
    assert b'aria-label="Push preview"' in push
    branch = client.get(reverse("offers:content_edit", args=[bank.offer.pk, "branch"])).content
    assert b"prompt for the agent" in branch


def test_an_offer_in_three_channels_is_one_queue_item_decided_together(client, people, bank):
    maker, checker = people["marketer"], people["compliance"]
    for channel in ("push", "email", "web"):
        _draft(maker, bank.offer, channel, f"Save on fuel via {channel}.")
    client.force_login(maker)
    client.post(reverse("offers:offer_content_submit", args=[bank.offer.pk]))
    requests = list(ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING))
    assert len(requests) == 3 and len({r.change for r in requests}) == 1

    client.force_login(checker)
    queue = client.get(reverse("compliance:approval_list"))
    assert len(queue.context["page"].object_list) == 1
    assert queue.context["pending"] == 1
    item = queue.context["page"].object_list[0]
    assert item.change_label == "CARD_FUEL content" and item.members == 3
    page = client.get(reverse("compliance:approval_detail", args=[item.pk])).content.decode()
    assert page.count('aria-label="Push preview"') == 1 and "E-mail preview" in page
    assert "One change: 3 channels" in page

    response = client.post(
        reverse("compliance:approval_detail", args=[item.pk]), {"action": "approve"}
    )
    assert response.status_code == 302
    assert set(
        ApprovalRequest.objects.filter(change=item.change).values_list("status", flat=True)
    ) == {ApprovalStatus.APPROVED}
    assert {ch for (_, ch) in approved_content(offers=[bank.offer])} == {
        "sms",
        "push",
        "email",
        "web",
    }


def test_channels_submitted_one_by_one_join_the_authors_open_change(people, bank):
    maker = people["marketer"]
    first = offer_services.content_submit_for_approval(
        actor=maker, content=_draft(maker, bank.offer, "push", "Push it.")
    )
    second = offer_services.content_submit_for_approval(
        actor=maker, content=_draft(maker, bank.offer, "email", "Mail it.")
    )
    first.refresh_from_db()
    assert first.change is not None and first.change == second.change


def test_a_blocking_finding_on_one_channel_holds_the_whole_change(people, bank):
    maker, checker = people["marketer"], people["compliance"]
    _draft(maker, bank.offer, "push", "Push it.")
    sms = _draft(maker, bank.offer, "sms", "No opt-out wording here.")
    parts = offer_services.offer_content_submit(actor=maker, offer=bank.offer)
    assert any(p.has_blocking_findings for p in parts)
    with pytest.raises(Unprocessable, match="CARD_FUEL/sms"):
        compliance_services.approval_decide_change(
            actor_user=checker, request=parts[0], action="approve"
        )
    assert not ApprovalRequest.objects.filter(change=parts[0].change, status="approved").exists()
    with pytest.raises(PermissionDenied):
        compliance_services.approval_decide_change(
            actor_user=maker, request=parts[0], action="reject", comment="mine"
        )
    sent_back = compliance_services.approval_decide_change(
        actor_user=checker, request=parts[0], action="request_changes", comment="add STOP"
    )
    assert {r.status for r in sent_back} == {ApprovalStatus.CHANGES_REQUESTED}
    assert sms.pk in {r.subject_id for r in sent_back}


def test_an_approved_version_comes_back_through_approval_after_a_newer_one_is_sent_back(
    client, people, bank
):
    maker, checker = people["marketer"], people["compliance"]
    v2 = offer_services.content_update(
        actor=maker, content=bank.content, data={"body": "New words. Reply STOP to opt out."}
    )
    request = offer_services.content_submit_for_approval(actor=maker, content=v2)
    compliance_services.approval_request_changes(actor_user=checker, request=request, comment="no")

    client.force_login(maker)
    page = client.get(reverse("offers:offer_detail", args=[bank.offer.pk])).content.decode()
    assert "Bring back v1" in page and "Changed from v1" in page
    response = client.post(reverse("offers:content_rollback", args=[bank.content.pk]))
    assert response.status_code == 302
    v3 = OfferContent.objects.get(offer=bank.offer, channel="sms", version=3)
    assert v3.body == bank.content.body
    pending = ApprovalRequest.objects.get(subject_id=v3.pk)
    assert pending.status == ApprovalStatus.PENDING  # goes through approval like any change
    assert approved_content(offers=[bank.offer])[(bank.offer.pk, "sms")].version == 1
    with pytest.raises(Conflict, match="never approved"):
        offer_services.content_rollback(actor=maker, content=v2)


def test_an_approved_targeting_version_is_rolled_back_as_a_new_version_for_approval(
    client, people, bank
):
    maker, checker = people["marketer"], people["compliance"]
    first = offer_services.offer_targeting_submit_for_approval(actor=maker, offer=bank.offer)
    compliance_services.approval_approve(actor_user=checker, request=first)
    offer_services.offer_update(actor=maker, offer=bank.offer, data={"lever": "2"}, note="up")
    proposal = ApprovalRequest.objects.filter(subject_type="offer_targeting").latest("pk")
    compliance_services.approval_approve(actor_user=checker, request=proposal)
    bank.offer.refresh_from_db()
    assert bank.offer.targeting_version == 2

    client.force_login(maker)
    assert (
        "Roll back to v1"
        in client.get(reverse("offers:offer_detail", args=[bank.offer.pk])).content.decode()
    )
    client.post(reverse("offers:offer_targeting_rollback", args=[bank.offer.pk, 1]))
    bank.offer.refresh_from_db()
    assert str(bank.offer.lever) == "2.000"  # v2 stays in force until the rollback is approved
    rollback = ApprovalRequest.objects.filter(subject_type="offer_targeting").latest("pk")
    assert (rollback.subject_version, rollback.status) == (3, ApprovalStatus.PENDING)
    compliance_services.approval_approve(actor_user=checker, request=rollback)
    bank.offer.refresh_from_db()
    assert (bank.offer.targeting_version, str(bank.offer.lever)) == (3, "1.000")
