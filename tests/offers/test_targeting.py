"""An offer's targeting is versioned like its content: a change to a live or approved
offer is a new version that a checker (never its maker) approves, while the approved
targeting stays in force — on the offer row, in the engine's snapshot, over the API."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.models import ApprovalRequest
from compliance.selectors import is_approved
from compliance.services import (
    approval_approve,
    approval_reject,
    approval_revoke,
    approval_withdraw,
)
from core.exceptions import Conflict, PermissionDenied, ValidationFailed
from decisioning.decisions.snapshots import TARGETING_NOT_APPROVED, build, snapshots
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from offers.models import Offer, OfferTargeting
from offers.selectors import (
    in_force_targeting_hash,
    targeting_proposal,
    targeting_states,
)
from offers.services import (
    content_create_version,
    content_submit_for_approval,
    offer_activate,
    offer_create,
    offer_targeting_submit_for_approval,
    offer_update,
    product_create,
)
from offers.targeting_hash import targeting_hash_of
from tests.factories import CampaignFactory, CampaignOfferFactory, persona

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_rules")]

APPROVED_RULE = 'risk_band in ("low", "medium") and attributes.salary > 1000'
WIDENED_RULE = 'risk_band == "high" and income_band == "low"'


@pytest.fixture(autouse=True)
def fresh_snapshot():
    snapshots.clear()
    yield
    snapshots.clear()


def approval_of(offer: Offer, version: int) -> ApprovalRequest:
    return (
        ApprovalRequest.objects.filter(
            subject_type=ApprovalSubject.OFFER_TARGETING,
            subject_id=offer.pk,
            subject_version=version,
        )
        .order_by("-pk")
        .first()
    )


def catalog_audit(action: str) -> AuditRecord:
    return AuditRecord.objects.filter(kind=AuditKind.CATALOG, action=action).latest("seq")


@pytest.fixture
def loan_product(maker):
    return product_create(
        actor=maker,
        code="PERSONAL_LOAN",
        name="Personal loan",
        family="loans",
        annual_value="600",
        is_credit=True,
    )


def in_a_running_campaign(offer: Offer) -> Offer:
    """So the engine's snapshot has it."""
    campaign = CampaignFactory(
        code=f"RUNNING_{offer.code}", kind="inbound", channels=["branch", "web"]
    )
    CampaignOfferFactory(campaign=campaign, offer=offer)
    return offer


@pytest.fixture
def live_loan(maker, checker, loan_product):
    """A live credit offer whose targeting v1 was approved by the checker, in a running
    campaign."""
    offer = offer_create(
        actor=maker,
        product=loan_product,
        code="LOAN_SPRING",
        name="Spring loan",
        eligibility_rule=APPROVED_RULE,
        lever="1.2",
    )
    approval_approve(
        actor_user=checker, request=offer_targeting_submit_for_approval(actor=maker, offer=offer)
    )
    return in_a_running_campaign(offer_activate(actor=maker, offer=offer))


def widen(offer: Offer, actor) -> Offer:
    """The compliance officer's example: high-risk, low-income customers, lever 5."""
    return offer_update(
        actor=actor,
        offer=offer,
        data={"eligibility_rule": WIDENED_RULE, "lever": "5.0"},
        note="Reach more people",
    )


# --- a live offer -------------------------------------------------------------------------


def test_editing_a_live_offers_eligibility_keeps_the_approved_rule_in_force_until_approved(
    maker, checker, live_loan
):
    returned = widen(live_loan, maker)

    # The offer row, which every reader uses, still carries approved v1.
    live_loan.refresh_from_db()
    assert returned.eligibility_rule == live_loan.eligibility_rule == APPROVED_RULE
    assert live_loan.lever == Decimal("1.200") and live_loan.targeting_version == 1
    # The change is v2, waiting for a checker.
    v2 = OfferTargeting.objects.get(offer=live_loan, version=2)
    assert (v2.eligibility_rule, v2.lever, v2.note) == (
        WIDENED_RULE,
        Decimal("5.000"),
        "Reach more people",
    )
    request = approval_of(live_loan, 2)
    assert request.status == ApprovalStatus.PENDING and request.submitted_by == maker
    assert (
        request.content_hash
        == v2.content_hash
        == targeting_hash_of(v2, offer_code=live_loan.code, version=2)
    )
    assert request.subject_repr == "LOAN_SPRING targeting"
    assert targeting_proposal(targeting_states(offer=live_loan)).targeting == v2
    proposed = catalog_audit("offer_targeting_proposed")
    assert proposed.data["version"] == 2 and proposed.data["in_force_version"] == 1
    assert proposed.data["changes"]["lever"] == ["1.200", "5.0"]

    # The engine's snapshot reads the approved rule and lever.
    spec = build().engine.offers["LOAN_SPRING"]
    assert spec.lever == 1.2 and spec.status == "active"
    assert spec.eligibility.fields() == {"risk_band", "attributes.salary"}

    approval_approve(actor_user=checker, request=request, comment="Checked with risk")

    live_loan.refresh_from_db()
    assert (live_loan.eligibility_rule, live_loan.lever) == (WIDENED_RULE, Decimal("5.000"))
    assert live_loan.targeting_version == 2
    assert is_approved(
        ApprovalSubject.OFFER_TARGETING, live_loan.pk, 2, in_force_targeting_hash(live_loan)
    )
    in_force = catalog_audit("offer_targeting_in_force")
    assert (in_force.actor, in_force.data["version"], in_force.data["previous_version"]) == (
        "user:checker",
        2,
        1,
    )
    snapshots.clear()
    assert build().engine.offers["LOAN_SPRING"].lever == 5.0


def test_the_request_shows_the_change_against_the_targeting_in_force_and_its_prechecks(
    maker, live_loan
):
    widen(live_loan, maker)
    request = approval_of(live_loan, 2)
    snapshot = request.snapshot
    assert snapshot["eligibility_rule"] == WIDENED_RULE and snapshot["lever"] == "5.000"
    assert snapshot["in_force"]["version"] == 1
    assert snapshot["in_force"]["eligibility_rule"] == APPROVED_RULE
    assert snapshot["in_force"]["lever"] == "1.200"
    assert snapshot["is_credit"] is True
    codes = [f["code"] for f in request.prechecks]
    assert codes == ["lever_raised_sharply"]
    assert "1.2 to 5" in request.prechecks[0]["message"]
    assert not request.has_blocking_findings


def test_protected_attributes_in_new_targeting_are_flagged_to_the_reviewer(maker, checker):
    card = product_create(actor=maker, code="CARD", name="Card", family="cards", annual_value=90)
    offer = offer_create(actor=maker, product=card, code="CARD_GOLD", name="Gold")
    approval_approve(
        actor_user=checker, request=offer_targeting_submit_for_approval(actor=maker, offer=offer)
    )
    offer_activate(actor=maker, offer=offer)

    offer_update(actor=maker, offer=offer, data={"eligibility_rule": 'attributes.gender == "F"'})

    request = approval_of(offer, 2)
    assert [f["code"] for f in request.prechecks] == ["protected_attribute_used"]
    assert request.prechecks[0]["field"] == "eligibility_rule"


def test_a_credit_offers_new_targeting_may_not_read_a_protected_attribute(maker, live_loan):
    with pytest.raises(ValidationFailed, match="protected"):
        offer_update(
            actor=maker, offer=live_loan, data={"eligibility_rule": 'attributes.religion == "x"'}
        )
    assert not OfferTargeting.objects.filter(offer=live_loan, version=2).exists()


def test_the_maker_cannot_approve_their_own_targeting_change(live_loan):
    both = persona("both-hats", "marketer", "compliance")
    widen(live_loan, both)
    request = approval_of(live_loan, 2)
    with pytest.raises(PermissionDenied):
        approval_approve(actor_user=both, request=request)
    with pytest.raises(PermissionDenied):
        approval_reject(actor_user=both, request=request, comment="mine")
    # And the database refuses it whatever the caller.
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalRequest.objects.filter(pk=request.pk).update(
            status=ApprovalStatus.APPROVED, decided_by=both
        )
    live_loan.refresh_from_db()
    assert live_loan.eligibility_rule == APPROVED_RULE and live_loan.targeting_version == 1


def test_a_rejected_targeting_change_never_comes_into_force(maker, checker, live_loan):
    widen(live_loan, maker)
    approval_reject(actor_user=checker, request=approval_of(live_loan, 2), comment="Too risky")
    live_loan.refresh_from_db()
    assert live_loan.eligibility_rule == APPROVED_RULE and live_loan.targeting_version == 1
    assert build().engine.offers["LOAN_SPRING"].lever == 1.2
    record = AuditRecord.objects.filter(kind=AuditKind.APPROVAL, action="approval_rejected").get(
        object_id=str(approval_of(live_loan, 2).pk)
    )
    assert record.actor == "user:checker"


def test_every_targeting_decision_is_audited_in_the_decisions_transaction(
    maker, checker, live_loan
):
    widen(live_loan, maker)
    request = approval_of(live_loan, 2)
    # A version altered behind the services is refused at approval: the decision, its
    # audit record and the copy onto the offer all roll back together.
    OfferTargeting.objects.filter(offer=live_loan, version=2).update(lever=Decimal("9"))
    before = AuditRecord.objects.count()
    with pytest.raises(Conflict, match="altered"):
        approval_approve(actor_user=checker, request=request)
    request.refresh_from_db()
    live_loan.refresh_from_db()
    assert request.status == ApprovalStatus.PENDING
    assert live_loan.lever == Decimal("1.200")
    assert AuditRecord.objects.count() == before


def test_editing_a_pending_change_again_replaces_it_and_another_makers_change_waits(
    maker, checker, live_loan
):
    widen(live_loan, maker)
    offer_update(actor=maker, offer=live_loan, data={"lever": "1.5"})
    assert approval_of(live_loan, 2).status == ApprovalStatus.WITHDRAWN
    v3 = OfferTargeting.objects.get(offer=live_loan, version=3)
    # It continues the proposal: the widened rule, the new lever.
    assert (v3.eligibility_rule, v3.lever) == (WIDENED_RULE, Decimal("1.500"))
    assert approval_of(live_loan, 3).status == ApprovalStatus.PENDING

    rui = persona("rui", "marketer")
    with pytest.raises(Conflict, match="waiting for review"):
        offer_update(actor=rui, offer=live_loan, data={"lever": "2"})
    assert approval_of(live_loan, 3).status == ApprovalStatus.PENDING

    # Back to exactly what is in force: nothing to approve; the proposal is withdrawn.
    offer_update(
        actor=maker,
        offer=live_loan,
        data={"eligibility_rule": APPROVED_RULE, "lever": "1.2"},
    )
    assert approval_of(live_loan, 3).status == ApprovalStatus.WITHDRAWN
    assert not OfferTargeting.objects.filter(offer=live_loan, version=4).exists()


def test_the_name_changes_at_once_while_the_targeting_waits(maker, live_loan):
    offer_update(actor=maker, offer=live_loan, data={"name": "Spring loan 2", "lever": "2"})
    live_loan.refresh_from_db()
    assert live_loan.name == "Spring loan 2" and live_loan.lever == Decimal("1.200")
    assert catalog_audit("offer_updated").data["changes"] == {
        "name": ["Spring loan", "Spring loan 2"]
    }


def test_a_live_offers_targeting_is_changed_only_by_a_person(live_loan):
    with pytest.raises(PermissionDenied):
        offer_update(actor="system:import", offer=live_loan, data={"lever": "3"})
    live_loan.refresh_from_db()
    assert live_loan.lever == Decimal("1.200")


def test_every_targeting_field_is_versioned(maker, checker, live_loan):
    start = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)
    changes = {
        "valid_from": start,
        "valid_until": start + datetime.timedelta(days=30),
        "value": "750",
        "cooldown_days": 5,
        "trigger_weights": {"loan_calculator_used": 4.0},
    }
    offer_update(actor=maker, offer=live_loan, data=changes)
    live_loan.refresh_from_db()
    assert (live_loan.valid_from, live_loan.value, live_loan.cooldown_days) == (None, None, 0)
    assert live_loan.trigger_weights == {}
    approval_approve(actor_user=checker, request=approval_of(live_loan, 2))
    live_loan.refresh_from_db()
    assert live_loan.valid_from == start and live_loan.value == Decimal("750.00")
    assert (live_loan.cooldown_days, live_loan.trigger_weights) == (
        5,
        {"loan_calculator_used": 4.0},
    )


def test_revoking_the_targeting_in_force_pauses_the_offer_and_stops_its_release(
    maker, checker, live_loan
):
    approval_revoke(actor_user=checker, request=approval_of(live_loan, 1), comment="Mistake")
    live_loan.refresh_from_db()
    assert live_loan.status == "paused"
    assert catalog_audit("offer_targeting_approval_revoked").data["previous_status"] == "active"
    live_loan.status = "active"  # even if someone re-activated it, nothing is released
    live_loan.save()
    assert build().engine.offers["LOAN_SPRING"].status == TARGETING_NOT_APPROVED


def test_targeting_altered_on_the_offer_row_behind_the_services_is_not_released(live_loan):
    Offer.objects.filter(pk=live_loan.pk).update(lever=Decimal("5"))
    assert build().engine.offers["LOAN_SPRING"].status == TARGETING_NOT_APPROVED


# --- a draft offer ------------------------------------------------------------------------


def test_a_draft_offers_targeting_is_edited_in_place_until_submitted(maker, loan_product):
    offer = offer_create(actor=maker, product=loan_product, code="LOAN_NEW", name="New loan")
    offer_update(actor=maker, offer=offer, data={"eligibility_rule": "age >= 21", "lever": "2"})
    offer.refresh_from_db()
    assert (offer.eligibility_rule, offer.lever, offer.targeting_version) == (
        "age >= 21",
        Decimal("2.000"),
        1,
    )
    (v1,) = OfferTargeting.objects.filter(offer=offer)
    assert v1.eligibility_rule == "age >= 21"
    assert v1.content_hash == in_force_targeting_hash(offer)
    assert not ApprovalRequest.objects.filter(subject_type=ApprovalSubject.OFFER_TARGETING)

    request = offer_targeting_submit_for_approval(actor=maker, offer=offer)
    assert request.snapshot["in_force"] is None  # nothing was in force before
    offer_update(actor=maker, offer=offer, data={"lever": "3"})
    # Submitted, so the edit is v2 (v1, the maker's own, withdrawn); still a draft.
    assert approval_of(offer, 1).status == ApprovalStatus.WITHDRAWN
    offer.refresh_from_db()
    assert (offer.targeting_version, offer.lever) == (2, Decimal("3.000"))


def test_a_new_offers_targeting_is_not_released_until_a_checker_approves_it(
    maker, checker, loan_product
):
    from campaigns.services import campaign_create, campaign_launch, campaign_submit_targeting

    offer = offer_create(
        actor=maker, product=loan_product, code="LOAN_NEW", name="New", eligibility_rule="age >= 21"
    )
    content = content_create_version(
        actor=maker,
        offer=offer,
        channel="branch",
        headline="A loan",
        body="Ask us.",
        disclosure="Representative 9.9% APR.",
    )
    approval_approve(
        actor_user=checker, request=content_submit_for_approval(actor=maker, content=content)
    )
    offer_activate(actor=maker, offer=offer)
    campaign = campaign_create(
        actor=maker,
        code="NBO",
        name="NBO",
        kind="inbound",
        channels=["branch"],
        offers=[{"offer": offer}],
    )
    approval_approve(
        actor_user=checker, request=campaign_submit_targeting(actor=maker, campaign=campaign)
    )
    campaign_launch(actor=maker, campaign=campaign)
    assert build().engine.offers["LOAN_NEW"].status == TARGETING_NOT_APPROVED

    approval_approve(
        actor_user=checker, request=offer_targeting_submit_for_approval(actor=maker, offer=offer)
    )
    snapshots.clear()
    assert build().engine.offers["LOAN_NEW"].status == "active"


def test_an_older_targeting_version_cannot_replace_an_approved_newer_one(maker, checker, live_loan):
    widen(live_loan, maker)
    approval_approve(actor_user=checker, request=approval_of(live_loan, 2))
    # v1's request was approved long ago; approving it again is impossible, and a stale
    # pending request for an older version (written behind the services) is refused.
    stale = approval_of(live_loan, 1)
    ApprovalRequest.objects.filter(pk=stale.pk).update(status=ApprovalStatus.REJECTED)
    ApprovalRequest.objects.create(
        subject_type=ApprovalSubject.OFFER_TARGETING,
        subject_id=live_loan.pk,
        subject_version=1,
        content_hash=stale.content_hash,
        subject_repr=stale.subject_repr,
        snapshot=stale.snapshot,
        status=ApprovalStatus.PENDING,
        submitted_by=maker,
    )
    with pytest.raises(Conflict, match="older"):
        approval_approve(actor_user=checker, request=approval_of(live_loan, 1))
    live_loan.refresh_from_db()
    assert live_loan.targeting_version == 2


def test_withdrawing_a_targeting_change_leaves_the_offer_as_it_was(maker, live_loan):
    widen(live_loan, maker)
    approval_withdraw(actor_user=maker, request=approval_of(live_loan, 2))
    live_loan.refresh_from_db()
    assert live_loan.targeting_version == 1 and live_loan.eligibility_rule == APPROVED_RULE
    assert targeting_proposal(targeting_states(offer=live_loan)) is None
