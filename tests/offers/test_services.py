"""Catalog writes: products, offers, versioned content and its submission for approval."""

from __future__ import annotations

from decimal import Decimal

import pytest

from compliance.choices import ApprovalStatus, ApprovalSubject
from compliance.selectors import is_approved
from compliance.services import approval_approve
from compliance.versioning import current_catalog_version
from core.exceptions import Conflict, PermissionDenied, Unprocessable, ValidationFailed
from ledger.choices import AuditKind
from ledger.models import AuditRecord
from offers.content_hash import content_hash_of
from offers.selectors import (
    active_offers_with_channels,
    approved_content,
    content_states,
    offer_get,
    offer_list,
)
from offers.services import (
    content_create_version,
    content_submit_for_approval,
    content_update,
    offer_activate,
    offer_create,
    offer_pause,
    offer_retire,
    offer_update,
    product_create,
    product_update,
)
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

SMS = dict(
    channel="sms",
    headline="Fuel card",
    body="2% back on fuel.",
    call_to_action="Reply YES. Reply STOP to opt out.",
)


def catalog_audit(action: str) -> AuditRecord:
    return AuditRecord.objects.filter(kind=AuditKind.CATALOG, action=action).latest("seq")


@pytest.fixture
def card(maker):
    product = product_create(
        actor=maker, code="FUEL_CARD", name="Fuel card", family="cards", annual_value="90.00"
    )
    return offer_create(
        actor=maker, product=product, code="FUEL_CARD_CASHBACK", name="Fuel cashback"
    )


@pytest.fixture
def loan(maker):
    product = product_create(
        actor=maker,
        code="LOAN",
        name="Personal loan",
        family="loans",
        annual_value="400",
        is_credit=True,
    )
    return offer_create(actor=maker, product=product, code="LOAN_TOPUP", name="Loan top-up")


def approve(content, maker, checker):
    request = content_submit_for_approval(actor=maker, content=content)
    return approval_approve(actor_user=checker, request=request)


# --- products and offers ------------------------------------------------------------------


def test_product_create_is_audited_and_bumps_the_catalog_version(maker):
    before = current_catalog_version()
    product = product_create(
        actor=maker, code="GOLD", name="Gold card", family="cards", annual_value=Decimal("150")
    )
    assert product.annual_value == Decimal("150")
    record = catalog_audit("product_created")
    assert (record.actor, record.object_type, record.object_id) == (
        "user:maker",
        "product",
        str(product.pk),
    )
    assert record.data["annual_value"] == "150"
    assert current_catalog_version() == before + 1


def test_product_create_refuses_bad_input(maker):
    with pytest.raises(ValidationFailed) as error:
        product_create(actor=maker, code="X", name="X", family="crypto", annual_value=1)
    assert "family" in error.value.fields
    with pytest.raises(ValidationFailed) as error:
        product_create(actor=maker, code="", name="X", family="cards", annual_value=-1)
    assert {"code", "__all__"} & set(error.value.fields)


def test_product_update_records_before_and_after(maker, card):
    product_update(actor=maker, product=card.product, data={"annual_value": "95.50"})
    record = catalog_audit("product_updated")
    assert record.data["changes"] == {"annual_value": ["90.00", "95.50"]}
    with pytest.raises(ValidationFailed):
        product_update(actor=maker, product=card.product, data={"code": "NEW"})


def test_offer_is_created_as_a_draft_and_moves_through_its_lifecycle(maker, card):
    assert card.status == "draft"
    assert catalog_audit("offer_created").data["code"] == "FUEL_CARD_CASHBACK"
    assert offer_activate(actor=maker, offer=card).status == "active"
    assert offer_pause(actor=maker, offer=card).status == "paused"
    assert offer_activate(actor=maker, offer=card).status == "active"
    assert offer_retire(actor=maker, offer=card).status == "retired"
    assert [r.action for r in AuditRecord.objects.filter(object_type="offer").order_by("seq")] == [
        "offer_created",
        "offer_active",
        "offer_paused",
        "offer_active",
        "offer_retired",
    ]
    with pytest.raises(Conflict):
        offer_activate(actor=maker, offer=card)
    with pytest.raises(Conflict):
        offer_update(actor=maker, offer=card, data={"name": "x"})


def test_an_offer_of_an_inactive_product_cannot_be_activated(maker, card):
    product_update(actor=maker, product=card.product, data={"is_active": False})
    with pytest.raises(Unprocessable):
        offer_activate(actor=maker, offer=card)


def test_offer_update_validates_and_audits_the_changes(maker, card):
    offer_update(
        actor=maker, offer=card, data={"lever": "1.5", "trigger_weights": {"card_transaction": 2.0}}
    )
    card.refresh_from_db()
    assert card.lever == Decimal("1.5")
    assert catalog_audit("offer_updated").data["changes"]["lever"] == ["1.000", "1.5"]
    with pytest.raises(ValidationFailed):
        offer_update(actor=maker, offer=card, data={"trigger_weights": {"x": -1}})
    with pytest.raises(ValidationFailed):
        offer_update(actor=maker, offer=card, data={"code": "RENAMED"})


def test_an_offers_kind_only_changes_while_it_is_a_draft(maker, card):
    offer_update(actor=maker, offer=card, data={"kind": "service"})
    offer_activate(actor=maker, offer=card)
    with pytest.raises(Conflict, match="draft"):
        offer_update(actor=maker, offer=card, data={"kind": "sales"})


def test_eligibility_rule_with_a_syntax_error_is_refused_with_its_position(
    maker, card, engine_rules
):
    with pytest.raises(ValidationFailed) as error:
        offer_update(actor=maker, offer=card, data={"eligibility_rule": "age >= "})
    assert "position 7" in error.value.fields["eligibility_rule"][0]
    offer_update(actor=maker, offer=card, data={"eligibility_rule": "age >= 18"})


def test_eligibility_rule_is_checked_even_without_the_engine_parser(maker, card, fallback_rules):
    with pytest.raises(ValidationFailed) as error:
        offer_update(actor=maker, offer=card, data={"eligibility_rule": "(age >= 18"})
    assert "position" in error.value.fields["eligibility_rule"][0]


@pytest.mark.usefixtures("engine_rules")
def test_a_credit_offer_may_not_target_by_a_protected_attribute(maker, loan, card):
    with pytest.raises(ValidationFailed, match="protected"):
        offer_update(actor=maker, offer=loan, data={"eligibility_rule": 'attributes.gender == "F"'})
    with pytest.raises(ValidationFailed):
        offer_create(
            actor=maker,
            product=loan.product,
            code="L2",
            name="L2",
            eligibility_rule='attributes.nationality == "PT"',
        )
    # For a non-credit product it is allowed here (and flagged to the reviewer).
    offer_update(actor=maker, offer=card, data={"eligibility_rule": 'attributes.gender == "F"'})
    with pytest.raises(ValidationFailed, match="protected"):
        product_update(actor=maker, product=card.product, data={"is_credit": True})


# --- content versions -----------------------------------------------------------------------


def test_content_versions_count_per_offer_and_channel_and_carry_their_hash(maker, card):
    v1 = content_create_version(actor=maker, offer=card, **SMS)
    v2 = content_create_version(actor=maker, offer=card, **{**SMS, "body": "3% back on fuel."})
    email = content_create_version(actor=maker, offer=card, **{**SMS, "channel": "email"})
    assert (v1.version, v2.version, email.version) == (1, 2, 1)
    assert v1.content_hash == content_hash_of(v1) != v2.content_hash
    assert v1.created_by == maker
    record = catalog_audit("content_version_created")
    assert record.data == {
        "offer": card.code,
        "channel": "email",
        "version": 1,
        "content_hash": email.content_hash,
    }


def test_content_needs_a_known_channel_headline_and_body(maker, card):
    with pytest.raises(ValidationFailed):
        content_create_version(actor=maker, offer=card, **{**SMS, "channel": "fax"})
    with pytest.raises(ValidationFailed) as error:
        content_create_version(actor=maker, offer=card, channel="sms", headline="", body="")
    assert {"headline", "body"} <= set(error.value.fields)


def test_editing_a_draft_changes_it_in_place(maker, card):
    draft = content_create_version(actor=maker, offer=card, **SMS)
    edited = content_update(actor=maker, content=draft, data={"headline": "Fuel card, better"})
    assert edited.pk == draft.pk and edited.version == 1
    assert edited.content_hash == content_hash_of(edited) != draft.content_hash
    assert catalog_audit("content_draft_updated").data["fields_changed"] == ["headline"]


def test_editing_approved_content_makes_a_new_version_awaiting_approval(maker, checker, card):
    offer_activate(actor=maker, offer=card)
    v1 = content_create_version(actor=maker, offer=card, **SMS)
    approve(v1, maker, checker)

    v2 = content_update(actor=maker, content=v1, data={"body": "3% back on fuel."})

    assert v2.pk != v1.pk and v2.version == 2
    v1.refresh_from_db()
    assert v1.body == "2% back on fuel."  # the approved words never change
    assert is_approved(ApprovalSubject.OFFER_CONTENT, v1.pk, 1, v1.content_hash)
    assert not is_approved(ApprovalSubject.OFFER_CONTENT, v2.pk, 2, v2.content_hash)
    # The engine keeps releasing v1 until v2 is approved.
    assert approved_content(offers=[card])[(card.pk, "sms")].pk == v1.pk
    assert [s.status for s in content_states(offer=card)] == ["draft", "approved"]

    approve(v2, maker, checker)
    assert approved_content(offers=[card])[(card.pk, "sms")].pk == v2.pk


def test_editing_pending_content_makes_a_new_version_too(maker, card):
    v1 = content_create_version(actor=maker, offer=card, **SMS)
    content_submit_for_approval(actor=maker, content=v1)
    v2 = content_update(actor=maker, content=v1, data={"headline": "New"})
    assert v2.version == 2
    v1.refresh_from_db()
    assert v1.headline == "Fuel card"


def test_submitting_runs_the_prechecks_and_names_the_exact_version(maker, card):
    content = content_create_version(actor=maker, offer=card, **SMS)
    request = content_submit_for_approval(actor=maker, content=content)
    assert request.subject_type == ApprovalSubject.OFFER_CONTENT
    assert (request.subject_id, request.subject_version) == (content.pk, 1)
    assert request.content_hash == content.content_hash
    assert request.subject_repr == "FUEL_CARD_CASHBACK/sms"
    assert request.prechecks == []
    assert request.snapshot["body"] == "2% back on fuel."
    assert AuditRecord.objects.filter(kind=AuditKind.APPROVAL, action="approval_submitted").exists()


def test_credit_content_without_an_apr_cannot_be_approved(maker, checker, loan):
    content = content_create_version(
        actor=maker, offer=loan, channel="email", headline="Top up", body="Borrow more today."
    )
    request = content_submit_for_approval(actor=maker, content=content)
    assert request.has_blocking_findings
    assert [f["code"] for f in request.prechecks] == ["credit_disclosure_missing"]
    with pytest.raises(Unprocessable):
        approval_approve(actor_user=checker, request=request)

    fixed = content_update(
        actor=maker, content=content, data={"disclosure": "Representative 8.9% APR."}
    )
    request = content_submit_for_approval(actor=maker, content=fixed)
    assert approval_approve(actor_user=checker, request=request).status == ApprovalStatus.APPROVED


def test_sms_content_with_banned_phrases_and_placeholders_is_flagged(maker, card):
    content = content_create_version(
        actor=maker, offer=card, channel="sms", headline="Hi", body="Hi [NAME], risk-free cashback!"
    )
    request = content_submit_for_approval(actor=maker, content=content)
    assert {f["code"] for f in request.prechecks} == {
        "banned_phrase",
        "unfilled_placeholder",
        "sms_without_opt_out",
    }


def test_only_a_person_submits_content(card):
    content = content_create_version(actor="api:cms", offer=card, **SMS)
    with pytest.raises(PermissionDenied):
        content_submit_for_approval(actor="api:cms", content=content)


def test_whether_a_product_is_credit_is_fixed_once_content_was_submitted(maker, card):
    content_submit_for_approval(
        actor=maker, content=content_create_version(actor=maker, offer=card, **SMS)
    )
    with pytest.raises(Conflict):
        product_update(actor=maker, product=card.product, data={"is_credit": True})


def test_content_altered_behind_the_services_back_is_never_released(maker, checker, card):
    content = content_create_version(actor=maker, offer=card, **SMS)
    approve(content, maker, checker)
    type(content).objects.filter(pk=content.pk).update(body="Something else entirely")
    assert approved_content(offers=[card]) == {}
    with pytest.raises(Conflict, match="altered"):
        content_submit_for_approval(actor=maker, content=content)


def test_active_offers_list_the_channels_with_approved_content(
    maker, checker, card, django_assert_max_num_queries
):
    offer_activate(actor=maker, offer=card)
    approve(content_create_version(actor=maker, offer=card, **SMS), maker, checker)
    content_create_version(actor=maker, offer=card, **{**SMS, "channel": "email"})  # not approved
    ProductFactory()
    with django_assert_max_num_queries(3):
        listing = active_offers_with_channels()
    assert [(offer.code, channels) for offer, channels in listing] == [
        ("FUEL_CARD_CASHBACK", ["sms"])
    ]
    assert offer_get(code="FUEL_CARD_CASHBACK").product.code == "FUEL_CARD"
    assert [o.code for o in offer_list(status="active")] == ["FUEL_CARD_CASHBACK"]
