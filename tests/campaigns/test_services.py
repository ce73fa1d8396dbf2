"""Campaigns: versioned targeting, its approval, the launch gate, and the versioned
contact policy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.models import ContactPolicy
from campaigns.selectors import (
    active_contact_policy,
    campaign_get,
    campaign_list,
    targeting_hash,
    targeting_state,
)
from campaigns.services import (
    CampaignOfferInput,
    campaign_complete,
    campaign_create,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_submit_targeting,
    campaign_update,
    contact_policy_update,
)
from compliance.choices import ApprovalSubject
from compliance.services import approval_approve, approval_reject, approval_revoke
from compliance.versioning import current_catalog_version
from core.exceptions import Conflict, Unprocessable, ValidationFailed
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from offers.services import (
    content_create_version,
    content_submit_for_approval,
    offer_activate,
    offer_create,
    product_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def offers(maker):
    card = product_create(actor=maker, code="CARD", name="Card", family="cards", annual_value=100)
    loan = product_create(
        actor=maker, code="LOAN", name="Loan", family="loans", annual_value=300, is_credit=True
    )
    return (
        offer_create(actor=maker, product=card, code="CARD_OFFER", name="Card offer"),
        offer_create(actor=maker, product=loan, code="LOAN_OFFER", name="Loan offer"),
    )


def with_approved_sms(offer, maker, checker, disclosure=""):
    offer_activate(actor=maker, offer=offer)
    content = content_create_version(
        actor=maker,
        offer=offer,
        channel="sms",
        headline="Offer",
        body="For you.",
        call_to_action="Reply STOP to opt out",
        disclosure=disclosure,
    )
    approval_approve(
        actor_user=checker, request=content_submit_for_approval(actor=maker, content=content)
    )
    return content


def create(maker, catalog, **overrides):
    fields = dict(
        code="SPRING",
        name="Spring",
        kind="realtime",
        channels=["sms", "email"],
        trigger_event_types=["salary_deposit"],
        audience_rule="age >= 18",
        offers=[CampaignOfferInput(offer=catalog[0], arm="A", weight=Decimal("1"))],
    )
    fields.update(overrides)
    return campaign_create(actor=maker, **fields)


def campaign_audit(action: str) -> AuditRecord:
    return AuditRecord.objects.filter(kind=AuditKind.CAMPAIGN, action=action).latest("seq")


def approve_targeting(campaign, maker, checker):
    request = campaign_submit_targeting(actor=maker, campaign=campaign)
    return approval_approve(actor_user=checker, request=request)


def test_campaign_is_created_as_a_draft_at_targeting_version_one(maker, offers):
    before = current_catalog_version()
    campaign = create(maker, offers)
    assert (campaign.status, campaign.targeting_version) == ("draft", 1)
    assert [link.offer.code for link in campaign.campaign_offers.all()] == ["CARD_OFFER"]
    record = campaign_audit("campaign_created")
    assert record.data["targeting"]["offers"][0]["offer_code"] == "CARD_OFFER"
    assert current_catalog_version() == before + 1


def test_campaign_input_is_validated(maker, offers):
    def refused(**overrides) -> dict[str, list[str]]:
        with pytest.raises(ValidationFailed) as error:
            create(maker, offers, **overrides)
        return error.value.fields

    assert "outbound channels only" in refused(channels=["branch"])["channels"][0]
    assert "inbound channels only" in refused(kind="inbound", channels=["sms"])["channels"][0]
    assert refused(channels=["sms", "sms"]) == {"channels": ["a channel is listed twice"]}
    assert "trigger_event_types" in refused(trigger_event_types=[])
    assert "offers" in refused(offers=[{"offer": offers[0], "weight": 0}])
    assert "control_group_pct" in refused(control_group_pct=Decimal("120"))
    inbound = create(
        maker, offers, kind="inbound", channels=["branch", "web"], trigger_event_types=[]
    )
    assert inbound.kind == "inbound"


@pytest.mark.usefixtures("engine_rules")
def test_audience_rules_are_parsed_and_protected_attributes_refused_with_credit_offers(
    maker, offers
):
    with pytest.raises(ValidationFailed) as error:
        create(maker, offers, audience_rule="age >=")
    assert "audience_rule" in error.value.fields
    with pytest.raises(ValidationFailed, match="protected"):
        create(
            maker,
            offers,
            audience_rule='attributes.religion == "x"',
            offers=[CampaignOfferInput(offer=offers[1])],
        )


@pytest.mark.parametrize(
    ("data", "offers_change"),
    [
        ({"audience_rule": "age >= 21"}, False),
        ({"channels": ["email"]}, False),
        ({"control_group_pct": "5"}, False),
        ({}, True),
    ],
)
def test_targeting_changes_bump_the_targeting_version(maker, offers, data, offers_change):
    campaign = create(maker, offers)
    new_offers = [CampaignOfferInput(offer=offers[0], arm="B", weight=2)] if offers_change else None
    updated = campaign_update(actor=maker, campaign=campaign, data=data, offers=new_offers)
    assert updated.targeting_version == 2
    assert campaign_audit("campaign_updated").data["targeting_changed"] is True


def test_other_changes_keep_the_targeting_version(maker, offers):
    campaign = create(maker, offers)
    updated = campaign_update(
        actor=maker, campaign=campaign, data={"name": "Spring 2026", "priority": 5}
    )
    assert updated.targeting_version == 1
    assert campaign_audit("campaign_updated").data["changes"]["priority"] == [0, 5]
    assert campaign_update(actor=maker, campaign=updated, data={"name": "Spring 2026"}) == updated


def test_submitting_targeting_names_version_and_hash_and_waits_for_approval(maker, offers):
    campaign = create(maker, offers)
    request = campaign_submit_targeting(actor=maker, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "pending_approval"
    assert request.subject_type == ApprovalSubject.CAMPAIGN_TARGETING
    assert (request.subject_id, request.subject_version) == (campaign.pk, 1)
    assert request.content_hash == targeting_hash(campaign)
    assert request.snapshot["audience_rule"] == "age >= 18"
    # The card offer has no approved content yet: the reviewer is told.
    assert [f["code"] for f in request.prechecks] == ["offer_without_approved_content"]
    assert campaign_audit("campaign_targeting_submitted").data["approval_request"] == request.pk


def test_approval_moves_the_campaign_to_approved_and_launch_starts_it(maker, checker, offers):
    with_approved_sms(offers[0], maker, checker)
    campaign = create(maker, offers)
    approve_targeting(campaign, maker, checker)
    campaign.refresh_from_db()
    assert campaign.status == "approved"
    assert targeting_state(campaign).approved

    launched = campaign_launch(actor=maker, campaign=campaign)

    assert launched.status == "running"
    assert campaign_audit("campaign_launched").data["previous_status"] == "approved"


def test_launch_is_refused_until_the_targeting_is_approved(maker, checker, offers):
    with_approved_sms(offers[0], maker, checker)
    campaign = create(maker, offers)
    with pytest.raises(Unprocessable) as error:
        campaign_launch(actor=maker, campaign=campaign)
    assert "targeting" in error.value.fields
    campaign_submit_targeting(actor=maker, campaign=campaign)
    with pytest.raises(Unprocessable):
        campaign_launch(actor=maker, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "pending_approval"


def test_launch_is_refused_when_an_offer_has_no_approved_content_on_an_allowed_channel(
    maker, checker, offers
):
    with_approved_sms(offers[0], maker, checker)
    campaign = create(maker, offers, channels=["email"])
    approve_targeting(campaign, maker, checker)
    with pytest.raises(Unprocessable) as error:
        campaign_launch(actor=maker, campaign=campaign)
    assert "CARD_OFFER" in error.value.fields["offers"][0]


def test_a_rejected_targeting_sends_the_campaign_back_to_draft(maker, checker, offers):
    campaign = create(maker, offers)
    request = campaign_submit_targeting(actor=maker, campaign=campaign)
    approval_reject(actor_user=checker, request=request, comment="Audience too wide")
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert targeting_state(campaign).status == "rejected"


def test_changing_approved_targeting_needs_a_new_approval(maker, checker, offers):
    with_approved_sms(offers[0], maker, checker)
    campaign = create(maker, offers)
    approve_targeting(campaign, maker, checker)
    campaign = campaign_update(actor=maker, campaign=campaign, data={"control_group_pct": 20})
    assert (campaign.status, campaign.targeting_version) == ("draft", 2)
    with pytest.raises(Unprocessable):
        campaign_launch(actor=maker, campaign=campaign)
    approve_targeting(campaign, maker, checker)
    assert campaign_launch(actor=maker, campaign=campaign).status == "running"


def test_a_running_campaigns_targeting_cannot_change(maker, checker, offers):
    with_approved_sms(offers[0], maker, checker)
    campaign = create(maker, offers)
    approve_targeting(campaign, maker, checker)
    campaign_launch(actor=maker, campaign=campaign)
    with pytest.raises(Conflict, match="pause"):
        campaign_update(actor=maker, campaign=campaign, data={"audience_rule": "age >= 30"})
    campaign_update(actor=maker, campaign=campaign, data={"priority": 3})  # not targeting


def test_pause_resume_and_complete(maker, checker, offers):
    with_approved_sms(offers[0], maker, checker)
    campaign = create(maker, offers)
    approve_targeting(campaign, maker, checker)
    campaign_launch(actor=maker, campaign=campaign)
    assert campaign_pause(actor=maker, campaign=campaign).status == "paused"
    # While paused, its targeting may change; resuming then needs the new version approved.
    campaign_update(actor=maker, campaign=campaign, data={"channels": ["sms"]})
    with pytest.raises(Unprocessable):
        campaign_resume(actor=maker, campaign=campaign)
    approve_targeting(campaign, maker, checker)
    assert campaign_resume(actor=maker, campaign=campaign).status == "running"
    assert campaign_complete(actor=maker, campaign=campaign).status == "completed"
    with pytest.raises(Conflict):
        campaign_launch(actor=maker, campaign=campaign)
    with pytest.raises(Conflict):
        campaign_update(actor=maker, campaign=campaign, data={"name": "x"})
    actions = list(
        AuditRecord.objects.filter(kind=AuditKind.CAMPAIGN).values_list("action", flat=True)
    )
    for action in ("campaign_paused", "campaign_resumed", "campaign_completed"):
        assert action in actions


def test_revoking_the_approval_of_a_running_campaign_pauses_it(maker, checker, offers):
    with_approved_sms(offers[0], maker, checker)
    campaign = create(maker, offers)
    request = approve_targeting(campaign, maker, checker)
    campaign_launch(actor=maker, campaign=campaign)
    approval_revoke(actor_user=checker, request=request, comment="Complaint received")
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert campaign_audit("campaign_status_from_approval").actor == "user:checker"


def test_targeting_prechecks_block_protected_attributes_for_credit_offers(
    maker, checker, offers, engine_rules
):
    from offers.models import Offer

    # An eligibility rule written before the product became credit-sensitive
    # (bypassing the service on purpose) is still caught at submission.
    Offer.objects.filter(pk=offers[1].pk).update(
        eligibility_rule='attributes.marital_status == "single"'
    )
    campaign = create(maker, offers, offers=[CampaignOfferInput(offer=offers[1])])
    request = campaign_submit_targeting(actor=maker, campaign=campaign)
    assert request.has_blocking_findings
    assert "protected_attribute_credit" in [f["code"] for f in request.prechecks]
    with pytest.raises(Unprocessable):
        approval_approve(actor_user=checker, request=request)


def test_campaign_selectors_load_offers_in_few_queries(
    maker, offers, django_assert_max_num_queries
):
    create(maker, offers, code="A1")
    create(maker, offers, code="A2", offers=[CampaignOfferInput(offer=o) for o in offers])
    with django_assert_max_num_queries(2):
        rows = [
            (c.code, [link.offer.product.code for link in c.campaign_offers.all()])
            for c in campaign_list()
        ]
    assert rows == [("A1", ["CARD"]), ("A2", ["CARD", "LOAN"])]
    assert campaign_get(code="A2").code == "A2"


# --- contact policy -------------------------------------------------------------------------


def test_contact_policy_update_writes_a_new_pending_version_and_leaves_the_old_one_alone(maker):
    old = active_contact_policy()
    old_values = {f.name: getattr(old, f.name) for f in ContactPolicy._meta.fields}

    new = contact_policy_update(actor=maker, data={"daily_cap": 2, "weekly_cap": 4}, note="Summer")

    assert new.version == old.version + 1
    assert not new.is_active and active_contact_policy() == old
    assert (new.daily_cap, new.weekly_cap, new.quiet_channels) == (2, 4, old.quiet_channels)
    old.refresh_from_db()
    assert {f.name: getattr(old, f.name) for f in ContactPolicy._meta.fields} == old_values
    record = AuditRecord.objects.filter(kind=AuditKind.POLICY).get()
    assert record.action == "contact_policy_version_proposed"
    assert record.data["changes"] == {"daily_cap": [1, 2], "weekly_cap": [3, 4]}
    assert record.data["previous_version"] == old.version


def test_contact_policy_update_validates(maker):
    with pytest.raises(ValidationFailed):
        contact_policy_update(actor=maker, data={"daily_cap": 5, "weekly_cap": 2})
    with pytest.raises(ValidationFailed):
        contact_policy_update(actor=maker, data={"quiet_channels": ["branch"]})
    with pytest.raises(ValidationFailed):
        contact_policy_update(actor=maker, data={"version": 9})
    assert ContactPolicy.objects.count() == 1
    assert contact_policy_update(actor=maker, data={"daily_cap": 1}) == active_contact_policy()
